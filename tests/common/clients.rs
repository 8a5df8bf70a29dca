//! Runs the real MCP clients pinned in `tests/clients` (the Inspector CLI, the official
//! TypeScript SDK, the conformance suite) under the Node 22 that the same lockfile installs.

use std::{path::PathBuf, process::Command};

use serde_json::Value;

/// `tests/clients`, after checking that `npm ci` has run there.
pub fn clients_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let node = dir.join("node_modules/.bin/node");
    assert!(
        node.exists(),
        "the real MCP clients are not installed: run `npm ci --prefix tests/clients` \
         (scripts/test.sh does it), then run the tests again"
    );
    dir
}

/// Runs a command from `tests/clients/node_modules/.bin` with that folder first on PATH, so that
/// the pinned Node 22 runs it rather than the machine's Node. Returns stdout; panics with the
/// command's stderr if it fails.
pub fn run_client(program: &str, args: &[&str]) -> String {
    run_client_with_stderr(program, args).0
}

/// [`run_client`], also returning stderr.
pub fn run_client_with_stderr(program: &str, args: &[&str]) -> (String, String) {
    let dir = clients_dir();
    let bin = dir.join("node_modules/.bin");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(bin.join(program))
        .args(args)
        .current_dir(&dir)
        .env("PATH", path)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status,
    );
    (stdout, stderr)
}

pub fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("client printed no JSON ({error}): {stdout}"))
}

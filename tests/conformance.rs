//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! `tests/clients`) against `/mcp`, with the conformance fixtures on: both frozen requirement
//! sets, the handshake era's (`--requirements 2025-11-25`, sessions on Streamable HTTP) and
//! the stateless revision's (`--requirements 2026-07-28`), against one server process. The
//! suite exits non-zero when any scored scenario fails; the scenarios it runs unscored
//! (extensions, pending ones) are printed for the report. The legacy HTTP+SSE transport is
//! covered by the Inspector and SDK tests in `real_clients.rs`.

mod common;

use common::{TestServer, clients::run_client_with_stderr, settings};

/// Runs one requirement set and returns its unscored scenarios' lines; panics (with the
/// suite's output) if a scored scenario failed or fewer than `scored` ran.
fn requirements(url: &str, revision: &str, scored: usize) -> Vec<String> {
    let (stdout, _) = run_client_with_stderr(
        "conformance",
        &["server", "--url", url, "--requirements", revision],
    );
    let ran = stdout
        .lines()
        .filter(|line| line.starts_with("✓ ") || line.starts_with("✗ "))
        .count();
    let unscored: Vec<String> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("Not scored for"))
        .skip(1)
        .map(|line| line.trim().to_string())
        .filter(|line| line.starts_with('✓') || line.starts_with('✗'))
        .collect();
    assert_eq!(
        ran - unscored.len(),
        scored,
        "{revision}: scored scenarios run\n{stdout}"
    );
    unscored
}

#[test]
fn both_requirement_sets_pass_against_one_server() {
    let server = TestServer::start_github(settings(&[("MCP_CONFORMANCE_FIXTURES", "1")]));
    // The URL must name 127.0.0.1 for the DNS-rebinding scenario.
    let url = server.url("/mcp");
    for (revision, scored) in [("2025-11-25", 30), ("2026-07-28", 37)] {
        let unscored = requirements(&url, revision, scored);
        println!("{revision}: {scored} scored scenarios passed; not scored:");
        for line in &unscored {
            println!("  {line}");
        }
        if revision == "2025-11-25" {
            // test_reconnection closes its POST stream before its result (SEP-1699).
            assert!(
                unscored
                    .iter()
                    .any(|l| l == "✓ server-sse-polling (pending)"),
                "{unscored:?}"
            );
        }
    }
}

//! `github-issue-mcp healthcheck`: exit 0 when the server on PORT answers `/health`, 1 (with
//! the reason on stderr) when nothing does. Runs the real binary.

mod common;

use std::process::Command;

use common::fake_github::TEST_TOKEN;

fn healthcheck(port: u16) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_github-issue-mcp"))
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_reports_a_running_server_and_a_missing_one() {
    let (child, server) = common::spawn_binary(&[
        ("GITHUB_TOKEN", TEST_TOKEN),
        ("GITHUB_API_URL", "http://127.0.0.1:9"),
    ])
    .await;
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let healthy = healthcheck(port);
    assert!(healthy.status.success(), "{healthy:?}");

    common::terminate(&child);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let unhealthy = healthcheck(port);
    assert_eq!(unhealthy.status.code(), Some(1));
    let said = String::from_utf8_lossy(&unhealthy.stderr);
    assert!(said.starts_with("unhealthy: cannot connect"), "{said}");
}

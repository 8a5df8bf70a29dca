//! The snapshot of the tool definitions, as `tools/list` shows them on the newest protocol
//! revision: names, titles, descriptions, input and output schemas, annotations, and their
//! order.

mod common;

use common::{fake_github::FakeGitHub, github_server, session};
use serde_json::json;

/// Tool definitions are what models see: a change must show up as a reviewed diff. Run with
/// `UPDATE_SNAPSHOTS=1` to accept a change.
#[tokio::test(flavor = "multi_thread")]
async fn tool_definitions_match_the_snapshot() {
    let fake = FakeGitHub::start();
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-11-25").await;
    let listed = client.request(json!(1), "tools/list", json!({})).await;
    let actual = serde_json::to_string_pretty(&listed["result"]["tools"]).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/tools.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(path)
        .expect("tests/snapshots/tools.json exists (UPDATE_SNAPSHOTS=1 writes it)");
    assert!(
        actual == expected,
        "tool definitions changed; review the diff of tests/snapshots/tools.json after \
         UPDATE_SNAPSHOTS=1 cargo test --test tool_definitions"
    );
}

//! Real MCP clients against the real server on the stateless revision 2026-07-28 (POST /mcp
//! without a session): the TypeScript SDK v2 client (`@modelcontextprotocol/client`) and the
//! MCP Inspector's CLI, pinned in `tests/clients/package-lock.json` and run under the Node 22
//! that the same lockfile installs. `tests/real_clients.rs` covers the handshake era.
//!
//! Each test proves the era it asked for was the one spoken, so that a client quietly falling
//! back to `initialize` fails it: the SDK script records every HTTP exchange, and the Inspector
//! is checked against a tool that the server offers on the stateless revision only.

mod common;

use common::{
    TestServer,
    clients::{parse, run_client},
    fake_github::FakeGitHub,
    github_server, text_of,
};
use serde_json::Value;

/// A conformance fixture that the server lists on the stateless revision only: seeing it in
/// `tools/list` shows the client spoke 2026-07-28. It asks for the user's name (`user_name`,
/// by elicitation) with an `input_required` result, then greets them.
const MODERN_ONLY_TOOL: &str = "test_input_required_result_elicitation";

/// The fake GitHub with octo/hello and two issues, and the server (with the conformance
/// fixtures) in front of it.
fn seeded_server() -> (FakeGitHub, TestServer) {
    let fake = FakeGitHub::with_two_issues();
    let server = github_server(&fake, &[("MCP_CONFORMANCE_FIXTURES", "1")]);
    (fake, server)
}

fn names(tools: &Value) -> Vec<&str> {
    tools
        .as_array()
        .expect("an array of tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect()
}

/// The SDK v2 client, negotiating with `mode` (`auto` or a pinned revision), uses a tool, a
/// resource, a prompt and an elicitation round trip (`sdk-v2-client.mjs`), all on 2026-07-28.
fn sdk_v2_speaks_the_stateless_revision(mode: &str) {
    let (_fake, server) = seeded_server();
    let summary = parse(&run_client(
        "node",
        &[
            "sdk-v2-client.mjs",
            &server.url("/mcp"),
            mode,
            "octo/hello",
            "1",
        ],
    ));

    // The era: negotiated by server/discover, never initialize, and no session at any point.
    assert_eq!(summary["era"], "modern", "{summary}");
    assert_eq!(summary["protocolVersion"], "2026-07-28", "{summary}");
    assert_eq!(summary["serverInfo"]["name"], "github-issue-manager");
    let exchanges = summary["exchanges"].as_array().expect("exchanges");
    assert_eq!(exchanges[0]["method"], "server/discover", "{summary}");
    for exchange in exchanges {
        assert_eq!(
            exchange["http"], "POST",
            "no GET stream, no DELETE: {exchange}"
        );
        assert_ne!(exchange["method"], "initialize", "{exchange}");
        assert_eq!(exchange["status"], 200, "{exchange}");
        assert_eq!(exchange["sessionId"], Value::Null, "{exchange}");
        assert_eq!(
            exchange["protocolVersionHeader"], "2026-07-28",
            "{exchange}"
        );
    }

    let tools: Vec<&str> = summary["tools"]
        .as_array()
        .expect("tool names")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tools.contains(&"list_issues"), "{tools:?}");
    assert!(tools.contains(&MODERN_ONLY_TOOL), "{tools:?}");

    let listed = &summary["listIssues"];
    assert_ne!(listed["isError"], true, "{listed}");
    assert_eq!(listed["structuredContent"]["count"], 2, "{listed}");
    for title in ["Crash on start", "Dark mode"] {
        assert!(text_of(listed).contains(title), "{title}: {listed}");
    }

    let read = &summary["resource"]["contents"][0];
    assert_eq!(read["uri"], "issue://octo/hello/1", "{read}");
    assert_eq!(read["mimeType"], "text/markdown", "{read}");
    let markdown = read["text"].as_str().unwrap_or_default();
    assert!(markdown.contains("Crash on start"), "{markdown}");
    assert!(markdown.contains("Steps to reproduce"), "{markdown}");

    let prompt = &summary["prompt"];
    assert_eq!(prompt["description"], "Triage issue #1 in octo/hello");
    let instructions = prompt["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(instructions.contains("issue://octo/hello/1"), "{prompt}");

    // The multi round-trip: the first tools/call was answered input_required, the SDK asked its
    // elicitation handler once, and sent the call again with the answer.
    let elicited = summary["elicited"].as_array().expect("elicited");
    assert_eq!(elicited.len(), 1, "{summary}");
    assert_eq!(elicited[0]["message"], "What is your name?", "{summary}");
    let calls: Vec<&Value> = exchanges
        .iter()
        .filter(|exchange| exchange["method"] == "tools/call")
        .collect();
    assert_eq!(
        calls.len(),
        3,
        "list_issues, then the fixture twice: {summary}"
    );
    assert_eq!(calls[1]["inputResponses"], Value::Null, "{summary}");
    assert_eq!(
        calls[2]["inputResponses"]["user_name"]["content"]["name"], "Ada",
        "{summary}"
    );
    let greeting = &summary["greeting"];
    assert_ne!(greeting["isError"], true, "{greeting}");
    assert!(text_of(greeting).contains("Ada"), "{greeting}");
}

#[test]
fn sdk_v2_client_negotiating_auto_speaks_the_stateless_revision() {
    sdk_v2_speaks_the_stateless_revision("auto");
}

#[test]
fn sdk_v2_client_pinned_to_2026_07_28_speaks_the_stateless_revision() {
    sdk_v2_speaks_the_stateless_revision("2026-07-28");
}

/// One Inspector CLI run over Streamable HTTP with `--protocol-era <era>`.
fn inspector(url: &str, era: &str, method: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--cli",
        url,
        "--transport",
        "http",
        "--protocol-era",
        era,
        "--method",
        method,
    ];
    args.extend_from_slice(extra);
    parse(&run_client("inspector", &args))
}

/// The Inspector CLI with `--protocol-era <era>` lists tools, calls list_issues, reads a
/// resource and gets a prompt, on the stateless revision.
fn inspector_speaks_the_stateless_revision(era: &str) {
    let (_fake, server) = seeded_server();
    let url = server.url("/mcp");

    let listed = inspector(&url, era, "tools/list", &[]);
    let tools = names(&listed["tools"]);
    assert!(tools.contains(&"list_issues"), "{listed}");
    assert!(
        tools.contains(&MODERN_ONLY_TOOL),
        "not the stateless revision: {tools:?}"
    );
    // The control: on the handshake era the same server does not offer that tool.
    let legacy = inspector(&url, "legacy", "tools/list", &[]);
    let legacy_tools = names(&legacy["tools"]);
    assert!(legacy_tools.contains(&"list_issues"), "{legacy}");
    assert!(!legacy_tools.contains(&MODERN_ONLY_TOOL), "{legacy}");

    let called = inspector(
        &url,
        era,
        "tools/call",
        &[
            "--tool-name",
            "list_issues",
            "--tool-arg",
            "owner=octo",
            "--tool-arg",
            "repo=hello",
        ],
    );
    assert_ne!(called["isError"], true, "{called}");
    assert_eq!(called["structuredContent"]["count"], 2, "{called}");
    for title in ["Crash on start", "Dark mode"] {
        assert!(text_of(&called).contains(title), "{title}: {called}");
    }

    let read = inspector(
        &url,
        era,
        "resources/read",
        &["--uri", "issue://octo/hello/2"],
    );
    let contents = &read["contents"][0];
    assert_eq!(contents["uri"], "issue://octo/hello/2", "{read}");
    assert_eq!(contents["mimeType"], "text/markdown", "{read}");
    assert!(
        contents["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Dark mode"),
        "{read}"
    );

    let prompt = inspector(
        &url,
        era,
        "prompts/get",
        &[
            "--prompt-name",
            "triage-issue",
            "--prompt-args",
            "owner=octo",
            "repo=hello",
            "issue_number=2",
        ],
    );
    assert_eq!(
        prompt["description"], "Triage issue #2 in octo/hello",
        "{prompt}"
    );
    assert_eq!(prompt["messages"][0]["role"], "user", "{prompt}");
}

#[test]
fn inspector_cli_with_protocol_era_modern() {
    inspector_speaks_the_stateless_revision("modern");
}

#[test]
fn inspector_cli_with_protocol_era_auto() {
    inspector_speaks_the_stateless_revision("auto");
}

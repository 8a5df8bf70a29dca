//! Real MCP clients against the real server: the MCP Inspector's CLI and the official
//! TypeScript SDK client, pinned in `tests/clients/package-lock.json` and run under the Node 22
//! that the same lockfile installs. `scripts/test.sh` installs them (`npm ci`) before
//! `cargo test`; run alone, this test fails with the command to run if they are missing.

mod common;

use common::{
    TestServer,
    clients::{parse, run_client, run_client_with_stderr},
    fake_github::{FakeGitHub, IssueSeed},
    github_server, settings,
};
use github_issue_mcp::{
    mcp::{dispatcher::Features, jsonrpc::ErrorObject},
    tools::{CallContext, CallToolResult, LocalFuture, Tool, ToolDefinition, ToolRegistry},
};
use serde_json::{Map, Value, json};

/// A tool that answers with its argument, so a real client's call can be checked end to end.
struct Echo(ToolDefinition);

impl Echo {
    fn new() -> Self {
        Echo(ToolDefinition {
            name: "echo".into(),
            title: "Echo".into(),
            description: "Answers with the text it was given.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
                "additionalProperties": false
            }),
            output_schema: None,
            annotations: None,
        })
    }
}

impl Tool for Echo {
    fn definition(&self) -> &ToolDefinition {
        &self.0
    }

    fn call(
        &self,
        arguments: Map<String, Value>,
        _context: CallContext,
    ) -> LocalFuture<Result<CallToolResult, ErrorObject>> {
        let text = arguments.get("text").and_then(Value::as_str).unwrap_or("");
        let result = CallToolResult::text(format!("echo: {text}"));
        Box::pin(async move { Ok(result) })
    }
}

fn echo_server() -> TestServer {
    let features = Features {
        tools: ToolRegistry::default().with(Echo::new()),
        ..Features::default()
    };
    TestServer::start_with(settings(&[]), features)
}

/// One Inspector CLI run over the SSE transport: a whole session, from connect to close.
fn inspector(url: &str, method: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--cli", url, "--transport", "sse", "--method", method];
    args.extend_from_slice(extra);
    parse(&run_client("inspector", &args))
}

#[tokio::test(flavor = "multi_thread")]
async fn inspector_cli_lists_and_calls_tools_over_sse() {
    let server = echo_server();
    let url = server.url("/sse");

    let listed = inspector(&url, "tools/list", &[]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools array")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert_eq!(names, ["echo"], "{listed}");

    let called = inspector(
        &url,
        "tools/call",
        &[
            "--tool-name",
            "echo",
            "--tool-arg",
            "text=hello from the inspector",
        ],
    );
    assert_eq!(
        called["content"][0]["text"], "echo: hello from the inspector",
        "{called}"
    );
    assert_ne!(called["isError"], true, "{called}");

    // Each CLI run is a whole session: both have ended.
    server.wait_for_sessions(0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_sdk_clients_at_once_over_sse() {
    let server = echo_server();
    let summary = parse(&run_client(
        "node",
        &["sdk-client.mjs", "sse", &server.url("/sse"), "50"],
    ));
    assert_eq!(summary["ok"], 50, "{summary}");
    assert_eq!(summary["serverInfo"]["name"], "github-issue-manager");
    assert_eq!(summary["tools"], 1, "{summary}");
    server.wait_for_sessions(0).await;
}

/// The official SDK (inside the Inspector) validates every tool definition and checks each
/// `structuredContent` against the tool's `outputSchema`: our GitHub tools must pass both.
#[tokio::test(flavor = "multi_thread")]
async fn inspector_accepts_the_github_tools_and_their_structured_output() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let number = fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            title: "Crash on start".into(),
            body: Some("Steps to reproduce".into()),
            labels: vec!["bug".into()],
            assignees: vec!["hubot".into()],
            ..IssueSeed::default()
        },
    );
    fake.add_comment("octo", "hello", number, "hubot", "Seen it too");
    let server = github_server(&fake, &[]);
    let url = server.url("/sse");

    // --strict reports schema constructs that some clients' dialects cannot take.
    let (stdout, stderr) = run_client_with_stderr(
        "inspector",
        &[
            "--cli",
            &url,
            "--transport",
            "sse",
            "--method",
            "tools/list",
            "--strict",
        ],
    );
    let listed = parse(&stdout);
    assert_eq!(
        listed["tools"].as_array().map(Vec::len),
        Some(9),
        "{listed}"
    );
    assert!(!stderr.contains("Warning"), "schema portability: {stderr}");

    let issue = format!("issue_number={number}");
    let calls: [(&str, Vec<&str>); 5] = [
        ("list_issues", vec!["owner=octo", "repo=hello"]),
        (
            "list_issues_paginated",
            vec!["owner=octo", "repo=hello", "per_page=1"],
        ),
        ("get_issue", vec!["owner=octo", "repo=hello", &issue]),
        (
            "list_issue_comments",
            vec!["owner=octo", "repo=hello", &issue],
        ),
        ("search_issues", vec!["query=crash repo:octo/hello"]),
    ];
    for (tool, arguments) in calls {
        let mut extra = vec!["--tool-name", tool];
        for argument in &arguments {
            extra.extend(["--tool-arg", argument]);
        }
        let result = inspector(&url, "tools/call", &extra);
        assert_ne!(result["isError"], true, "{tool}: {result}");
        assert!(result["structuredContent"].is_object(), "{tool}: {result}");
    }
    server.wait_for_sessions(0).await;
}

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
    dispatch::Features,
    mcp::jsonrpc::ErrorObject,
    tools::{
        CallContext, CallToolResult, LocalFuture, Tool, ToolDefinition, ToolRegistry, ToolReply,
    },
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
    ) -> LocalFuture<Result<ToolReply, ErrorObject>> {
        let text = arguments.get("text").and_then(Value::as_str).unwrap_or("");
        let result = CallToolResult::text(format!("echo: {text}"));
        Box::pin(async move { Ok(result.into()) })
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

/// The official SDK client uses every GitHub tool, resource template, prompt, completion and a
/// subscription, over one transport (`sdk-github.mjs`).
async fn sdk_uses_every_github_feature(transport: &str, path: &str) {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let number = fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            title: "Watch me".into(),
            ..IssueSeed::default()
        },
    );
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.add_comment("octo", "hello", number, "hubot", "First");
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__MCP__SUBSCRIPTION_POLL_MS", "50")],
    );
    let summary = parse(&run_client(
        "node",
        &[
            "sdk-github.mjs",
            transport,
            &server.url(path),
            "octo/hello",
            &number.to_string(),
        ],
    ));
    assert_eq!(summary["toolCount"], 9, "{summary}");
    assert_eq!(summary["tools"].as_object().unwrap().len(), 9, "{summary}");
    for (tool, kind) in summary["tools"].as_object().unwrap() {
        assert_eq!(kind, "structured", "{tool}: {summary}");
    }
    assert_eq!(
        summary["resources"].as_object().unwrap().len(),
        3,
        "{summary}"
    );
    assert_eq!(
        summary["prompts"].as_object().unwrap().len(),
        3,
        "{summary}"
    );
    // Issues 1 and 2 were seeded; the client filed 3 with create_issue.
    assert_eq!(
        summary["completedNumbers"],
        serde_json::json!(["1", "2", "3"]),
        "{summary}"
    );
    assert_eq!(summary["updated"], format!("issue://octo/hello/{number}"));
    let issue = fake.issue("octo", "hello", number).unwrap();
    assert_eq!(issue["title"], format!("Changed over {transport}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_client_uses_every_github_feature_over_sse() {
    sdk_uses_every_github_feature("sse", "/sse").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_client_uses_every_github_feature_over_streamable_http() {
    sdk_uses_every_github_feature("http", "/mcp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inspector_cli_over_streamable_http() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    let server = github_server(&fake, &[]);
    let url = server.url("/mcp");
    let args = |extra: &[&'static str]| {
        let mut all = vec!["--cli", url.as_str(), "--transport", "http"];
        all.extend_from_slice(extra);
        all
    };
    let listed = parse(&run_client("inspector", &args(&["--method", "tools/list"])));
    assert_eq!(
        listed["tools"].as_array().map(Vec::len),
        Some(9),
        "{listed}"
    );
    let called = parse(&run_client(
        "inspector",
        &args(&[
            "--method",
            "tools/call",
            "--tool-name",
            "list_issues",
            "--tool-arg",
            "owner=octo",
            "--tool-arg",
            "repo=hello",
        ]),
    ));
    assert_eq!(called["structuredContent"]["count"], 1, "{called}");
    let read = parse(&run_client(
        "inspector",
        &args(&[
            "--method",
            "resources/read",
            "--uri",
            "issue://octo/hello/1",
        ]),
    ));
    assert_eq!(read["contents"][0]["mimeType"], "text/markdown", "{read}");
}

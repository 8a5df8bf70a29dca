//! Real MCP clients against the real server: the MCP Inspector's CLI and the official
//! TypeScript SDK client, pinned in `tests/clients/package-lock.json` and run under the Node 22
//! that the same lockfile installs. `scripts/test.sh` installs them (`npm ci`) before
//! `cargo test`; run alone, this test fails with the command to run if they are missing.

mod common;

use std::{path::PathBuf, process::Command};

use common::{
    TestServer,
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

/// `tests/clients`, after checking that `npm ci` has run there.
fn clients_dir() -> PathBuf {
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
fn run_client(program: &str, args: &[&str]) -> String {
    run_client_with_stderr(program, args).0
}

/// [`run_client`], also returning stderr.
fn run_client_with_stderr(program: &str, args: &[&str]) -> (String, String) {
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

fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("client printed no JSON ({error}): {stdout}"))
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

    let listed = inspector(&url, "tools/list", &[]);
    assert_eq!(
        listed["tools"].as_array().map(Vec::len),
        Some(9),
        "{listed}"
    );

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

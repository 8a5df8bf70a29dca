//! Policy end to end: read-only mode, tool allow/deny lists, and the repository allow-list on
//! tools, resources, completions and search.

mod common;

use common::{
    fake_github::{FakeGitHub, IssueSeed},
    github_server, session, text_of,
};
use serde_json::json;

fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start();
    for repo in ["hello", "other"] {
        fake.add_repo("octo", repo);
        fake.add_issue("octo", repo, IssueSeed::default());
    }
    fake
}

async fn tool_names(client: &mut common::SseClient) -> Vec<String> {
    let listed = client.request(json!(100), "tools/list", json!({})).await;
    listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mode_lists_and_runs_only_read_tools() {
    let fake = fake();
    let server = github_server(&fake, &[("GITHUB_ISSUE_MCP__POLICY__READ_ONLY", "true")]);
    let mut client = session(&server, "2025-06-18").await;
    let names = tool_names(&mut client).await;
    assert_eq!(
        names,
        [
            "list_issues",
            "get_issue",
            "search_issues",
            "list_issues_paginated",
            "list_issue_comments"
        ]
    );
    let refused = client
        .request(json!(1), "tools/call", json!({"name": "create_issue", "arguments": {"owner": "octo", "repo": "hello", "title": "x"}}))
        .await;
    assert_eq!(refused["error"]["code"], -32602);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{refused}"
    );
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_lists_choose_the_tools() {
    let fake = fake();
    let server = github_server(
        &fake,
        &[
            (
                "GITHUB_ISSUE_MCP__POLICY__TOOLS_ALLOW",
                "get_issue,search_issues,list_issues",
            ),
            ("GITHUB_ISSUE_MCP__POLICY__TOOLS_DENY", "search_issues"),
        ],
    );
    let mut client = session(&server, "2025-06-18").await;
    assert_eq!(tool_names(&mut client).await, ["list_issues", "get_issue"]);
}

/// Denying the read tools denies their data: the `issue://` resources that show the same
/// thing are neither listed nor readable nor subscribable, and issue numbers are not
/// completed from the list; nothing reaches GitHub.
#[tokio::test(flavor = "multi_thread")]
async fn denied_read_tools_close_the_resources_that_show_the_same_data() {
    let fake = fake();
    let server = github_server(
        &fake,
        &[(
            "GITHUB_ISSUE_MCP__POLICY__TOOLS_DENY",
            "get_issue,list_issue_comments",
        )],
    );
    let mut client = session(&server, "2025-06-18").await;
    let sent = fake.request_count();
    for (id, uri) in [
        (1, "issue://octo/hello/1"),
        (2, "issue://octo/hello/1/comments"),
    ] {
        let read = client
            .request(json!(id), "resources/read", json!({ "uri": uri }))
            .await;
        assert_eq!(read["error"]["code"], -32602, "{uri}: {read}");
        let message = read["error"]["message"].as_str().unwrap();
        assert!(message.contains("policy.tools_deny"), "{message}");
        let subscribed = client
            .request(json!(id + 10), "resources/subscribe", json!({ "uri": uri }))
            .await;
        assert!(subscribed["error"].is_object(), "{uri}: {subscribed}");
    }
    assert_eq!(fake.request_count(), sent, "nothing sent to GitHub");
    let templates = client
        .request(json!(3), "resources/templates/list", json!({}))
        .await;
    let listed: Vec<&str> = templates["result"]["resourceTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["uriTemplate"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["issue://{owner}/{repo}/open"], "{templates}");
    // list_issues is still enabled: its resource still reads.
    let open = client
        .request(
            json!(4),
            "resources/read",
            json!({"uri": "issue://octo/hello/open"}),
        )
        .await;
    assert!(open["result"]["contents"].is_array(), "{open}");

    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__POLICY__TOOLS_ALLOW", "get_issue")],
    );
    let mut client = session(&server, "2025-06-18").await;
    let open = client
        .request(
            json!(1),
            "resources/read",
            json!({"uri": "issue://octo/hello/open"}),
        )
        .await;
    assert_eq!(open["error"]["code"], -32602, "{open}");
    let completed = client
        .request(
            json!(2),
            "completion/complete",
            json!({
                "ref": {"type": "ref/resource", "uri": "issue://{owner}/{repo}/{number}"},
                "argument": {"name": "number", "value": ""},
                "context": {"arguments": {"owner": "octo", "repo": "hello"}},
            }),
        )
        .await;
    assert_eq!(
        completed["result"]["completion"]["values"],
        json!([]),
        "{completed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_allowed_repositories_are_touched() {
    let fake = fake();
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__POLICY__REPOSITORIES", "octo/hello")],
    );
    let mut client = session(&server, "2025-06-18").await;

    let allowed = client
        .call_tool(1, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    assert_ne!(allowed["isError"], true, "{allowed}");
    let denied = client
        .call_tool(2, "list_issues", json!({"owner": "octo", "repo": "other"}))
        .await;
    assert_eq!(
        text_of(&denied),
        "repository octo/other is not allowed on this server; allowed: octo/hello"
    );
    let read = client
        .request(
            json!(3),
            "resources/read",
            json!({"uri": "issue://octo/other/1"}),
        )
        .await;
    assert_eq!(read["error"]["code"], -32602, "{read}");

    let search = client
        .call_tool(4, "search_issues", json!({"query": "seeded"}))
        .await;
    assert_ne!(search["isError"], true, "{search}");
    let sent = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path_and_query.starts_with("/search/"))
        .unwrap();
    assert!(
        sent.path_and_query.contains("repo%3Aocto%2Fhello"),
        "{}",
        sent.path_and_query
    );
    let outside = client
        .call_tool(5, "search_issues", json!({"query": "x repo:octo/other"}))
        .await;
    assert!(
        text_of(&outside).contains("outside the repositories allowed"),
        "{outside}"
    );

    client
        .post(
            json!({"jsonrpc": "2.0", "id": 6, "method": "completion/complete", "params": {
            "ref": {"type": "ref/resource", "uri": "issue://{owner}/{repo}/{number}"},
            "argument": {"name": "number", "value": ""},
            "context": {"arguments": {"owner": "octo", "repo": "other"}}}}),
        )
        .await;
    let completed = client.next_message().await;
    assert_eq!(
        completed["result"]["completion"]["values"],
        json!([]),
        "{completed}"
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.path_and_query.contains("/octo/other")),
        "nothing about octo/other reached GitHub"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_applies_on_streamable_http_too() {
    let fake = fake();
    let server = github_server(
        &fake,
        &[
            ("GITHUB_ISSUE_MCP__POLICY__READ_ONLY", "true"),
            ("GITHUB_ISSUE_MCP__POLICY__REPOSITORIES", "octo/hello"),
        ],
    );
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value, session: Option<String>| {
        let mut request = http
            .post(server.url("/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json");
        if let Some(session) = session {
            request = request.header("Mcp-Session-Id", session);
        }
        request.body(body.to_string()).send()
    };
    let opened = post(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        None,
    )
    .await
    .unwrap();
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let listed: serde_json::Value = post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        Some(session.clone()),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        listed["result"]["tools"].as_array().unwrap().len(),
        5,
        "{listed}"
    );
    let read: serde_json::Value = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": "issue://octo/other/1"}}),
        Some(session),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(read["error"]["code"], -32602, "{read}");
}

/// GitHub redirects requests for a transferred issue (or a renamed repository) to its new
/// place: under a repository policy that place may be outside it, so moves are not followed,
/// for reads or writes. Without a policy they are.
#[tokio::test(flavor = "multi_thread")]
async fn moves_are_not_followed_out_of_the_allowed_repositories() {
    let fake = fake();
    fake.add_repo("evil", "secret");
    let seed = IssueSeed {
        title: "TOP SECRET".into(),
        ..IssueSeed::default()
    };
    let secret = fake.add_issue("evil", "secret", seed);
    fake.move_to(
        "/repos/octo/hello/issues/5",
        &format!("/repos/evil/secret/issues/{secret}"),
    );
    let issue_5 = json!({"owner": "octo", "repo": "hello", "issue_number": 5});
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__POLICY__REPOSITORIES", "octo/hello")],
    );
    let mut client = session(&server, "2025-06-18").await;
    let read = client.call_tool(1, "get_issue", issue_5.clone()).await;
    assert_eq!(read["isError"], true, "{read}");
    assert!(text_of(&read).contains("has moved (301)"), "{read}");
    assert!(!read.to_string().contains("TOP SECRET"), "{read}");
    let mut update = issue_5.clone();
    update["title"] = json!("pwned");
    let write = client.call_tool(2, "update_issue", update).await;
    assert!(text_of(&write).contains("has moved (307)"), "{write}");
    assert_eq!(
        fake.issue("evil", "secret", secret).unwrap()["title"],
        "TOP SECRET"
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.path_and_query.starts_with("/repos/evil")),
        "nothing was sent to evil/secret"
    );

    let unconfined = github_server(&fake, &[]);
    let mut client = session(&unconfined, "2025-06-18").await;
    let read = client.call_tool(1, "get_issue", issue_5).await;
    assert_ne!(read["isError"], true, "{read}");
    assert!(text_of(&read).contains("TOP SECRET"), "{read}");
}

/// GitHub's advanced search reads OR, AND, NOT and parentheses: under a repository policy a
/// query with them is refused, and results from other repositories (however GitHub read the
/// query) are left out.
#[tokio::test(flavor = "multi_thread")]
async fn searches_cannot_reach_past_the_allowed_repositories() {
    let fake = fake();
    fake.add_repo("evil", "secret");
    fake.add_issue("evil", "secret", IssueSeed::default());
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__POLICY__REPOSITORIES", "octo/*")],
    );
    let mut client = session(&server, "2025-06-18").await;
    let sent = fake.request_count();
    let widened = client
        .call_tool(
            1,
            "search_issues",
            json!({"query": "repo:octo/hello OR (repo:evil/secret)"}),
        )
        .await;
    assert_eq!(widened["isError"], true, "{widened}");
    assert!(text_of(&widened).contains("uses OR"), "{widened}");
    assert_eq!(fake.request_count(), sent, "nothing sent to GitHub");

    // The fake does not read user: qualifiers, so it answers from every repository.
    let found = client
        .call_tool(2, "search_issues", json!({"query": "seeded"}))
        .await;
    assert_ne!(found["isError"], true, "{found}");
    let repos: Vec<&str> = found["structuredContent"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["repository"].as_str().unwrap())
        .collect();
    assert!(!repos.is_empty(), "{found}");
    assert!(repos.iter().all(|r| r.starts_with("octo/")), "{repos:?}");
    assert!(
        text_of(&found).contains("outside those allowed on this server were left out"),
        "{found}"
    );
}

/// Issue 15 follow-up, finding 7: a quote cannot hide a qualifier from the check. Under a
/// repository policy, a term is text only as one whole `"…"`: an unclosed quote, or text glued
/// after a closing one, is refused before GitHub is asked; a well-quoted search still runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_quote_cannot_smuggle_a_qualifier_into_a_search() {
    let fake = fake();
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__POLICY__REPOSITORIES", "octo/*")],
    );
    let mut client = session(&server, "2025-06-18").await;
    let sent = fake.request_count();
    for (id, query) in [
        "\"a\"owner:evil",
        "\"owner:evil",
        "crash \"a b\"repo:evil/secret",
        "label:\"x\"user:evil",
    ]
    .into_iter()
    .enumerate()
    {
        let refused = client
            .call_tool(id as u64 + 1, "search_issues", json!({ "query": query }))
            .await;
        assert_eq!(refused["isError"], true, "{query}: {refused}");
        assert!(
            text_of(&refused).contains("double quote"),
            "{query}: {}",
            text_of(&refused)
        );
    }
    assert_eq!(fake.request_count(), sent, "nothing sent to GitHub");

    let quoted = client
        .call_tool(
            9,
            "search_issues",
            json!({"query": "\"seeded issue\" label:\"good first issue\""}),
        )
        .await;
    assert_ne!(quoted["isError"], true, "{quoted}");
    let asked = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path_and_query.starts_with("/search/"))
        .expect("the search was sent");
    assert!(
        asked.path_and_query.contains("user%3Aocto"),
        "confined: {}",
        asked.path_and_query
    );
}

/// With a repository allow-list, a search answer tells nothing of what lies outside it (not
/// GitHub's total, nor how many results were left out), and a qualifier the server cannot
/// confine (`owner:`, `repository:`, one it does not know) is refused before GitHub sees it.
#[tokio::test(flavor = "multi_thread")]
async fn search_answers_reveal_nothing_outside_the_allowed_repositories() {
    let fake = fake();
    for n in 0..3 {
        fake.add_repo("evil", &format!("secret{n}"));
        fake.add_issue("evil", &format!("secret{n}"), IssueSeed::default());
    }
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__POLICY__REPOSITORIES", "octo/*")],
    );
    let mut client = session(&server, "2025-06-18").await;

    // The fake does not read user: qualifiers: it counts and answers all five repositories.
    let found = client
        .call_tool(1, "search_issues", json!({"query": "seeded"}))
        .await;
    let shown = found["structuredContent"]["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(shown, 2, "{found}");
    assert_eq!(found["structuredContent"]["total_count"], 2, "{found}");
    let text = text_of(&found);
    assert!(text.starts_with("2 results in total"), "{text}");
    assert!(!text.contains('5') && !text.contains('3'), "{text}");

    let sent = fake.request_count();
    for (id, query) in [
        (2, "seeded owner:evil"),
        (3, "seeded repository:evil/secret0"),
        (4, "seeded Owner:evil"),
        (5, "seeded some-new-scope:evil"),
    ] {
        let refused = client
            .call_tool(id, "search_issues", json!({ "query": query }))
            .await;
        assert_eq!(refused["isError"], true, "{query}: {refused}");
        assert!(text_of(&refused).contains("cannot confine"), "{refused}");
    }
    assert_eq!(fake.request_count(), sent, "nothing sent to GitHub");
}

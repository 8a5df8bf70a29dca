//! The GitHubGateway's rules, observed from the fake GitHub's side: one call at a time per
//! token, coalescing, conditional requests, rate-limit budgets, secondary back-off, a hold on
//! a rejected token, mutation spacing, and no blind retry of a POST.

mod common;

use std::time::Duration;

use common::{
    SseClient,
    fake_github::{FakeGitHub, IssueSeed},
    github_server, session, text_of,
};
use futures_util::future::join_all;
use serde_json::json;

fn repo_with_issues(count: usize) -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    for i in 0..count {
        fake.add_issue(
            "octo",
            "hello",
            IssueSeed {
                title: format!("Issue {i}"),
                ..IssueSeed::default()
            },
        );
    }
    fake
}

/// Sends `tools/call` on every client before reading any answer, then reads them all.
async fn call_all(
    clients: &mut [SseClient],
    name: &str,
    arguments: impl Fn(usize) -> serde_json::Value,
) -> Vec<serde_json::Value> {
    let posts = clients.iter().enumerate().map(|(i, client)| {
        client.post(json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                           "params": {"name": name, "arguments": arguments(i)}}))
    });
    join_all(posts).await;
    let mut results = Vec::new();
    for client in clients.iter_mut() {
        results.push(client.next_message().await["result"].clone());
    }
    results
}

#[tokio::test(flavor = "multi_thread")]
async fn one_call_at_a_time_per_token() {
    let fake = repo_with_issues(8);
    fake.set_latency(Duration::from_millis(30));
    let server = github_server(&fake, &[]);
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(session(&server, "2025-06-18").await);
    }
    let results = call_all(
        &mut clients,
        "get_issue",
        |i| json!({"owner": "octo", "repo": "hello", "issue_number": i + 1}),
    )
    .await;
    for result in &results {
        assert_ne!(result["isError"], true, "{result}");
    }
    assert_eq!(fake.request_count(), 8);
    assert_eq!(
        fake.max_in_flight(),
        1,
        "GitHub saw concurrent requests for one token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_identical_reads_go_out_once() {
    let fake = repo_with_issues(3);
    // Long enough for every session's call to arrive while the first is on the wire.
    fake.set_latency(Duration::from_millis(400));
    let server = github_server(&fake, &[]);
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(session(&server, "2025-06-18").await);
    }
    let results = call_all(
        &mut clients,
        "get_issue",
        |_| json!({"owner": "octo", "repo": "hello", "issue_number": 2}),
    )
    .await;
    for result in &results {
        assert_eq!(
            result["structuredContent"]["issue"]["number"], 2,
            "{result}"
        );
    }
    assert_eq!(fake.request_count(), 1, "{:?}", fake.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_read_is_answered_by_a_free_304() {
    let fake = repo_with_issues(2);
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    let args = json!({"owner": "octo", "repo": "hello", "issue_number": 1});
    let first = client.call_tool(1, "get_issue", args.clone()).await;
    let second = client.call_tool(2, "get_issue", args).await;
    assert_eq!(first["structuredContent"], second["structuredContent"]);
    assert_eq!(
        common::metric(&server, "mcp_tool_results_reused_total").await,
        1,
        "the 304's issue was not rendered again"
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert!(!requests[0].headers.contains_key("if-none-match"));
    assert!(
        requests[1].headers.contains_key("if-none-match"),
        "{:?}",
        requests[1]
    );
    assert_eq!(requests[1].status, 304);

    // A change on GitHub is seen: the ETag no longer matches.
    let updated = client
        .call_tool(
            3,
            "update_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 1, "title": "Renamed"}),
        )
        .await;
    assert_ne!(updated["isError"], true, "{updated}");
    let third = client
        .call_tool(
            4,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 1}),
        )
        .await;
    assert_eq!(third["structuredContent"]["issue"]["title"], "Renamed");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_list_is_rendered_once_and_a_change_on_github_shows_at_once() {
    let fake = repo_with_issues(3);
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    let mut other = session(&server, "2025-06-18").await;
    let args = json!({"owner": "octo", "repo": "hello", "limit": 5});

    let first = client.call_tool(1, "list_issues", args.clone()).await;
    assert_eq!(first["structuredContent"]["count"], 3, "{first}");
    assert_eq!(
        common::metric(&server, "mcp_tool_results_reused_total").await,
        0
    );
    // Another session, same GitHub identity: GitHub says 304, the rendering is shared.
    let second = other.call_tool(1, "list_issues", args.clone()).await;
    assert_eq!(second, first);
    assert_eq!(fake.requests().last().unwrap().status, 304);
    assert_eq!(
        common::metric(&server, "mcp_tool_results_reused_total").await,
        1
    );

    // Someone else files an issue on GitHub: the next list has it, rendered anew.
    fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            title: "Filed on github.com".into(),
            ..IssueSeed::default()
        },
    );
    let third = client.call_tool(2, "list_issues", args.clone()).await;
    assert_eq!(fake.requests().last().unwrap().status, 200);
    assert_eq!(third["structuredContent"]["count"], 4, "{third}");
    assert!(
        text_of(&third).contains("#4 Filed on github.com"),
        "{third}"
    );
    assert_eq!(
        common::metric(&server, "mcp_tool_results_reused_total").await,
        1
    );

    // Other arguments are another rendering.
    let limited = client
        .call_tool(
            3,
            "list_issues",
            json!({"owner": "octo", "repo": "hello", "limit": 1}),
        )
        .await;
    assert_eq!(limited["structuredContent"]["count"], 1, "{limited}");
    assert_eq!(
        common::metric(&server, "mcp_tool_results_reused_total").await,
        1
    );

    // Pages too: the page's text (page X of Y) comes from the same answer as its issues.
    let page = json!({"owner": "octo", "repo": "hello", "per_page": 3, "page": 2});
    let mine = client
        .call_tool(4, "list_issues_paginated", page.clone())
        .await;
    assert!(text_of(&mine).starts_with("Page 2 of 2 "), "{mine}");
    let theirs = other.call_tool(2, "list_issues_paginated", page).await;
    assert_eq!(theirs, mine);
    assert_eq!(
        common::metric(&server, "mcp_tool_results_reused_total").await,
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_goes_out_while_the_budget_is_spent() {
    let fake = repo_with_issues(1);
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    fake.set_rate_limit("search", 0, Duration::from_secs(600));

    let first = client
        .call_tool(1, "search_issues", json!({"query": "repo:octo/hello"}))
        .await;
    assert!(
        text_of(&first).starts_with("GitHub rate limit for search exhausted; resets at "),
        "{first}"
    );
    let sent = fake.request_count();
    let second = client
        .call_tool(
            2,
            "search_issues",
            json!({"query": "repo:octo/hello crash"}),
        )
        .await;
    assert!(
        text_of(&second).starts_with("GitHub rate limit for search exhausted"),
        "{second}"
    );
    assert_eq!(
        fake.request_count(),
        sent,
        "the gateway knew the budget was spent"
    );

    // The core budget is separate.
    let listed = client
        .call_tool(3, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    assert_ne!(listed["isError"], true, "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secondary_limit_holds_calls_back_for_retry_after() {
    let fake = repo_with_issues(1);
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    fake.set_secondary_limit(Some(30), 429, 1);

    let limited = client
        .call_tool(1, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    assert!(
        text_of(&limited).contains("secondary rate limit"),
        "{limited}"
    );
    assert!(text_of(&limited).contains("for 30 s"), "{limited}");
    let sent = fake.request_count();
    let held = client
        .call_tool(
            2,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 1}),
        )
        .await;
    assert!(text_of(&held).contains("secondary rate limit"), "{held}");
    assert_eq!(
        fake.request_count(),
        sent,
        "nothing sent during the back-off"
    );
}

/// Headers no GitHub sends (a reset or a retry-after past the end of time) once made the
/// gateway's clock arithmetic overflow and panic, which stopped it for every session.
#[tokio::test(flavor = "multi_thread")]
async fn absurd_rate_limit_headers_leave_the_gateway_running() {
    let fake = repo_with_issues(1);
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    let args = json!({"owner": "octo", "repo": "hello", "issue_number": 1});
    fake.set_rate_limit("core", 4000, Duration::MAX);
    for id in 1..=2 {
        let read = client.call_tool(id, "get_issue", args.clone()).await;
        assert_ne!(read["isError"], true, "{read}");
    }
    fake.set_secondary_limit(Some(u64::MAX), 429, 1);
    let limited = client.call_tool(3, "get_issue", args.clone()).await;
    assert!(
        text_of(&limited).contains("secondary rate limit"),
        "{limited}"
    );
    // Held back for an hour at most, by a gateway that still answers.
    assert!(text_of(&limited).contains("3600 s"), "{limited}");
    let held = client.call_tool(4, "get_issue", args).await;
    assert!(text_of(&held).contains("secondary rate limit"), "{held}");
    assert_eq!(server.health().await["status"], "ok");
}

/// A `next` link back to the same page must not be followed forever: not when the page is
/// empty (one request), nor when it holds comments (at most 20 pages).
#[tokio::test(flavor = "multi_thread")]
async fn a_paginator_without_end_is_not_followed_forever() {
    let fake = repo_with_issues(2);
    fake.add_comment("octo", "hello", 1, "hubot", "first!");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    fake.loop_pages_next(10_000);
    for (id, number, requests_at_most) in [(1, 2, 1), (2, 1, 20)] {
        let sent = fake.request_count();
        let listed = client
            .call_tool(
                id,
                "list_issue_comments",
                json!({"owner": "octo", "repo": "hello", "issue_number": number, "limit": 50}),
            )
            .await;
        assert!(listed.get("content").is_some(), "{listed}");
        let requests = fake.request_count() - sent;
        assert_eq!(requests, requests_at_most, "requests for issue {number}");
    }
}

/// GitHub locks a user's logins after repeated bad credentials: once GitHub has rejected the
/// server's token, agents retrying must not send it again and again.
#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_is_not_sent_again_at_once() {
    // The fake accepts another token only: the server's is revoked.
    let fake = FakeGitHub::start_with_tokens(&["ghp_theonlygoodtoken000000000"]);
    fake.add_repo("octo", "hello");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    let args = json!({"owner": "octo", "repo": "hello", "issue_number": 1});
    for id in 1..=3 {
        let refused = client.call_tool(id, "get_issue", args.clone()).await;
        assert_eq!(refused["isError"], true, "{refused}");
        assert!(
            text_of(&refused).contains("GitHub rejected the token"),
            "{refused}"
        );
    }
    assert_eq!(fake.request_count(), 1, "the rejected token went out once");
}

#[tokio::test(flavor = "multi_thread")]
async fn mutations_are_spaced_out() {
    let fake = repo_with_issues(3);
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__GITHUB__MUTATION_INTERVAL_MS", "150")],
    );
    let mut client = session(&server, "2025-06-18").await;
    let result = client
        .call_tool(
            1,
            "batch_label_issues",
            json!({"owner": "octo", "repo": "hello", "issue_numbers": [1, 2, 3], "labels": ["x"]}),
        )
        .await;
    assert_eq!(result["structuredContent"]["succeeded"], 3, "{result}");
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 3);
    for pair in posts.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(140), "mutations {gap:?} apart");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_whose_answer_is_lost_is_not_retried() {
    let fake = repo_with_issues(0);
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    fake.drop_connection_next("POST", 1);

    let lost = client
        .call_tool(
            1,
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "Once"}),
        )
        .await;
    assert_eq!(lost["isError"], true);
    assert!(
        text_of(&lost).contains("may or may not have been made"),
        "{lost}"
    );
    let posts = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "a POST goes out exactly once");
    assert!(
        fake.issue("octo", "hello", 1).is_some(),
        "GitHub did create it"
    );
    assert!(fake.issue("octo", "hello", 2).is_none(), "and only once");
}

/// Calls cancelled while they wait for their token's turn are dropped, not sent: abandoned
/// work must not hold up everyone else's calls (one token's calls go out one at a time).
#[tokio::test(flavor = "multi_thread")]
async fn cancelled_calls_waiting_their_turn_are_not_sent() {
    let fake = repo_with_issues(6);
    fake.set_latency(Duration::from_millis(500));
    let server = github_server(&fake, &[]);
    let client = session(&server, "2025-06-18").await;
    for n in 1..=5 {
        client
            .post(json!({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {
                "name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": n}}}))
            .await;
    }
    for n in 2..=5 {
        client
            .post(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": n}}))
            .await;
    }
    let mut other = session(&server, "2025-06-18").await;
    let read = other
        .call_tool(
            1,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 6}),
        )
        .await;
    assert_ne!(read["isError"], true, "{read}");
    let sent = fake.paths_with("/issues/");
    assert_eq!(
        sent,
        ["/repos/octo/hello/issues/1", "/repos/octo/hello/issues/6"],
        "the cancelled calls were not sent"
    );
}

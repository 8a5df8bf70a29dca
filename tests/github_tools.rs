//! Every GitHub tool end to end: a real MCP session over SSE, the real server and gateway, and
//! the stateful fake GitHub. Each tool: success, not found, a bad argument, a GitHub failure.

mod common;

use common::{
    fake_github::{FakeGitHub, IssueSeed},
    github_server, session, text_of,
};
use serde_json::{Value, json};

fn seed(title: &str) -> IssueSeed {
    IssueSeed {
        title: title.into(),
        ..IssueSeed::default()
    }
}

fn numbers(result: &Value, key: &str) -> Vec<u64> {
    result["structuredContent"][key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {result}"))
        .iter()
        .map(|issue| issue["number"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_issues_leaves_out_pull_requests_and_follows_links_to_fill_the_limit() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let issues: Vec<u64> = (1..=30)
        .map(|i| fake.add_issue("octo", "hello", seed(&format!("Issue {i}"))))
        .collect();
    // The 40 newest are pull requests: the first page holds none of the issues.
    for i in 0..40 {
        fake.add_pull_request("octo", "hello", &format!("PR {i}"));
    }
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    let result = client
        .call_tool(
            1,
            "list_issues",
            json!({"owner": "octo", "repo": "hello", "limit": 25}),
        )
        .await;
    assert_ne!(result["isError"], true, "{result}");
    let listed = numbers(&result, "issues");
    let newest: Vec<u64> = issues.iter().rev().take(25).copied().collect();
    assert_eq!(listed, newest);
    assert!(text_of(&result).starts_with("25 open issues in octo/hello:"));
    // Pages after the first were fetched by the Link URLs GitHub gave.
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path_and_query.starts_with("/repositories/")),
        "{:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_issues_errors_name_the_argument_or_the_repository() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-11-25").await;

    let bad = client
        .call_tool(
            1,
            "list_issues",
            json!({"owner": "octo", "repo": "hello", "state": "opened"}),
        )
        .await;
    assert_eq!(bad["isError"], true);
    assert_eq!(
        text_of(&bad),
        "argument `state` must be one of open, closed, all, got \"opened\""
    );
    let unknown = client
        .call_tool(
            2,
            "list_issues",
            json!({"owner": "octo", "repo": "nope", "limt": 3}),
        )
        .await;
    assert!(
        text_of(&unknown).starts_with("unknown argument limt"),
        "{unknown}"
    );
    let missing = client
        .call_tool(3, "list_issues", json!({"owner": "octo", "repo": "nope"}))
        .await;
    assert_eq!(missing["isError"], true);
    assert!(
        text_of(&missing)
            .starts_with("The issues of octo/nope not found, or the token cannot see it"),
        "{missing}"
    );
    assert_eq!(fake.request_count(), 1, "bad arguments never reach GitHub");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_issue_cleans_fences_and_cuts_user_text() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let body = format!("Steps\u{200B}\u{202E} here\u{E0041}\n{}", "x".repeat(300));
    let number = fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            title: "Crash\u{2066} on start".into(),
            body: Some(body),
            labels: vec!["bug".into()],
            ..IssueSeed::default()
        },
    );
    let server = github_server(&fake, &[("GITHUB_ISSUE_MCP__TOOLS__BODY_MAX_CHARS", "100")]);
    let mut client = session(&server, "2025-06-18").await;

    let result = client
        .call_tool(
            1,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": number}),
        )
        .await;
    let text = text_of(&result);
    assert!(
        text.contains(&format!("# #{number} Crash on start")),
        "{text}"
    );
    // The markers carry a code, new in every answer (tests/untrusted_text.rs).
    assert!(text.contains(" by @octocat\nSteps here\n"), "{text}");
    assert!(text.contains("<<<user-written text "), "{text}");
    assert!(
        text.contains(&format!(
            "[truncated: showing 100 of 311 characters; read the resource issue://octo/hello/{number} for the whole body]"
        )),
        "{text}"
    );
    let issue = &result["structuredContent"]["issue"];
    assert_eq!(issue["labels"], json!(["bug"]));
    assert_eq!(issue["body_truncated"], true);
    assert_eq!(issue["body"].as_str().unwrap().chars().count(), 100);

    let missing = client
        .call_tool(
            2,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 999}),
        )
        .await;
    assert!(
        text_of(&missing)
            .starts_with("Issue #999 in octo/hello not found, or the token cannot see it"),
        "{missing}"
    );
    fake.delete_issue("octo", "hello", number);
    let gone = client
        .call_tool(
            3,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": number}),
        )
        .await;
    assert!(text_of(&gone).contains("is gone (410)"), "{gone}");
    let zero = client
        .call_tool(
            4,
            "get_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 0}),
        )
        .await;
    assert_eq!(
        text_of(&zero),
        "argument `issue_number` must be a whole number from 1 to 4294967295, got 0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn structured_content_only_for_sessions_that_have_it() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", seed("One"));
    let server = github_server(&fake, &[]);
    for (version, structured) in [
        ("2024-11-05", false),
        ("2025-03-26", false),
        ("2025-06-18", true),
    ] {
        let mut client = session(&server, version).await;
        let listed = client.request(json!(1), "tools/list", json!({})).await;
        let tools = listed["result"]["tools"].as_array().unwrap().clone();
        assert_eq!(tools.len(), 9, "{version}");
        assert_eq!(
            tools[0].get("outputSchema").is_some(),
            structured,
            "{version}"
        );
        let result = client
            .call_tool(2, "list_issues", json!({"owner": "octo", "repo": "hello"}))
            .await;
        assert_eq!(
            result.get("structuredContent").is_some(),
            structured,
            "{version}"
        );
        assert!(
            text_of(&result).contains("- #1 One [open]"),
            "{version}: {result}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_issue_files_one_issue_and_reports_githubs_field_errors() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-11-25").await;

    let created = client
        .call_tool(
            1,
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "New bug", "body": "It broke",
                   "labels": ["bug"], "assignees": ["hubot"]}),
        )
        .await;
    assert_ne!(created["isError"], true, "{created}");
    let number = created["structuredContent"]["issue"]["number"]
        .as_u64()
        .unwrap();
    let stored = fake
        .issue("octo", "hello", number)
        .expect("the fake has it");
    assert_eq!(stored["title"], "New bug");
    assert_eq!(stored["body"], "It broke");
    assert!(text_of(&created).starts_with(&format!("Created issue #{number} in octo/hello:")));

    let refused = client
        .call_tool(
            2,
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "X", "assignees": ["nobody-here"]}),
        )
        .await;
    assert_eq!(refused["isError"], true);
    assert!(
        text_of(&refused).contains("`assignees` is invalid (value \"nobody-here\")"),
        "{refused}"
    );
    let untitled = client
        .call_tool(
            3,
            "create_issue",
            json!({"owner": "octo", "repo": "hello", "title": "  "}),
        )
        .await;
    assert_eq!(
        text_of(&untitled),
        "argument `title` must be 1 to 256 characters long, got 0"
    );
    let missing = client
        .call_tool(
            4,
            "create_issue",
            json!({"owner": "octo", "repo": "gone", "title": "X"}),
        )
        .await;
    assert!(
        text_of(&missing).starts_with("A new issue in octo/gone not found"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_issue_replaces_labels_and_closes_with_a_reason() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let number = fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            labels: vec!["bug".into(), "ui".into()],
            ..seed("Old title")
        },
    );
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-11-25").await;

    let updated = client
        .call_tool(
            1,
            "update_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": number,
                   "labels": ["docs"], "state": "closed", "state_reason": "not_planned"}),
        )
        .await;
    assert_ne!(updated["isError"], true, "{updated}");
    let stored = fake.issue("octo", "hello", number).unwrap();
    let labels: Vec<&str> = stored["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["docs"], "labels are replaced");
    assert_eq!(stored["state"], "closed");
    assert_eq!(stored["state_reason"], "not_planned");

    let nothing = client
        .call_tool(
            2,
            "update_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": number}),
        )
        .await;
    assert!(
        text_of(&nothing).starts_with("nothing to change"),
        "{nothing}"
    );
    let mismatch = client
        .call_tool(
            3,
            "update_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": number,
                   "state": "open", "state_reason": "completed"}),
        )
        .await;
    assert!(
        text_of(&mismatch).contains("does not go with state"),
        "{mismatch}"
    );
    let missing = client
        .call_tool(
            4,
            "update_issue",
            json!({"owner": "octo", "repo": "hello", "issue_number": 404, "title": "x"}),
        )
        .await;
    assert!(
        text_of(&missing).starts_with("Issue #404 in octo/hello not found"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_issues_shows_repository_number_title_state_and_total() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", seed("Sesame crash"));
    fake.add_issue("octo", "hello", seed("Unrelated"));
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    let found = client
        .call_tool(
            1,
            "search_issues",
            json!({"query": "sesame repo:octo/hello", "limit": 5}),
        )
        .await;
    assert_eq!(found["structuredContent"]["total_count"], 1, "{found}");
    let item = &found["structuredContent"]["items"][0];
    assert_eq!(item["repository"], "octo/hello");
    assert_eq!(item["title"], "Sesame crash");
    assert!(
        text_of(&found).contains("- octo/hello#1 Sesame crash [open]"),
        "{found}"
    );
    let sent = fake.requests().last().unwrap().headers.clone();
    assert_eq!(sent["x-github-api-version"], "2022-11-28");
    assert_eq!(sent["accept"], "application/vnd.github+json");
    assert_eq!(
        sent["authorization"],
        format!("Bearer {}", common::fake_github::TEST_TOKEN)
    );
    assert!(
        sent["user-agent"].starts_with("github-issue-mcp/"),
        "{sent:?}"
    );

    let too_many = client
        .call_tool(2, "search_issues", json!({"query": "x", "limit": 51}))
        .await;
    assert_eq!(
        text_of(&too_many),
        "argument `limit` must be a whole number from 1 to 50, got 51"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_issues_paginated_says_page_x_of_y() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    for i in 1..=7 {
        fake.add_issue("octo", "hello", seed(&format!("Issue {i}")));
    }
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    let page = client
        .call_tool(
            1,
            "list_issues_paginated",
            json!({"owner": "octo", "repo": "hello", "page": 2, "per_page": 3, "sort": "created"}),
        )
        .await;
    assert!(
        text_of(&page).starts_with("Page 2 of 3 of the open issues in octo/hello"),
        "{page}"
    );
    let structured = &page["structuredContent"];
    let fields: Vec<&str> = structured
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "repository",
        "state",
        "count",
        "issues",
        "page",
        "per_page",
        "has_next",
        "pull_requests_omitted",
        "total_pages",
    ];
    expected.sort();
    assert_eq!(fields, expected, "{structured}");
    assert_eq!(structured["repository"], "octo/hello");
    assert_eq!(structured["state"], "open");
    assert_eq!(structured["count"], 3);
    assert_eq!(structured["page"], 2);
    assert_eq!(structured["per_page"], 3);
    assert_eq!(structured["pull_requests_omitted"], 0);
    assert_eq!(structured["total_pages"], 3);
    assert_eq!(structured["has_next"], true);
    assert_eq!(numbers(&page, "issues"), [4, 3, 2]);
    let last = client
        .call_tool(
            2,
            "list_issues_paginated",
            json!({"owner": "octo", "repo": "hello", "page": 3, "per_page": 3, "sort": "created"}),
        )
        .await;
    assert!(text_of(&last).starts_with("Page 3 of 3"), "{last}");
    assert_eq!(last["structuredContent"]["has_next"], false);
    let bad = client
        .call_tool(
            3,
            "list_issues_paginated",
            json!({"owner": "octo", "repo": "hello", "direction": "up"}),
        )
        .await;
    assert_eq!(
        text_of(&bad),
        "argument `direction` must be one of asc, desc, got \"up\""
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_label_adds_labels_reports_each_issue_and_sends_progress() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let first = fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            labels: vec!["keep".into()],
            ..seed("A")
        },
    );
    let second = fake.add_issue("octo", "hello", seed("B"));
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    client
        .post(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "batch_label_issues",
            "arguments": {"owner": "octo", "repo": "hello", "issue_numbers": [first, 999, second], "labels": ["triaged"]},
            "_meta": {"progressToken": 42}
        }}))
        .await;
    let mut progress = Vec::new();
    let result = loop {
        let message = client.next_message().await;
        if message["method"] == "notifications/progress" {
            assert_eq!(
                message["params"]["progressToken"], 42,
                "token echoed as a number"
            );
            progress.push(message["params"]["progress"].as_u64().unwrap());
            assert_eq!(message["params"]["total"], 3);
        } else {
            assert_eq!(message["id"], 7);
            break message["result"].clone();
        }
    };
    assert_eq!(progress, [1, 2, 3]);
    assert_ne!(result["isError"], true, "some succeeded: {result}");
    assert_eq!(result["structuredContent"]["succeeded"], 2);
    assert_eq!(result["structuredContent"]["failed"], 1);
    let outcome = &result["structuredContent"]["results"][1];
    assert_eq!(outcome["issue_number"], 999);
    assert!(
        outcome["error"]
            .as_str()
            .unwrap()
            .starts_with("Issue #999 in octo/hello not found")
    );
    let labels = |n| {
        let issue = fake.issue("octo", "hello", n).unwrap();
        issue["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(first), ["keep", "triaged"], "existing labels stay");
    assert_eq!(labels(second), ["triaged"]);

    let duplicate = client
        .call_tool(
            8,
            "batch_label_issues",
            json!({"owner": "octo", "repo": "hello", "issue_numbers": [1, 1], "labels": ["x"]}),
        )
        .await;
    assert!(
        text_of(&duplicate).contains("distinct issue numbers"),
        "{duplicate}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_are_added_and_listed() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let number = fake.add_issue("octo", "hello", seed("Talk"));
    fake.add_comment("octo", "hello", number, "hubot", "first!");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    let added = client
        .call_tool(
            1,
            "add_issue_comment",
            json!({"owner": "octo", "repo": "hello", "issue_number": number, "body": "Thanks"}),
        )
        .await;
    assert_ne!(added["isError"], true, "{added}");
    let listed = client
        .call_tool(
            2,
            "list_issue_comments",
            json!({"owner": "octo", "repo": "hello", "issue_number": number}),
        )
        .await;
    let bodies: Vec<&str> = listed["structuredContent"]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["first!", "Thanks"]);
    assert!(text_of(&listed).starts_with(&format!("2 comments on issue #{number} in octo/hello")));
    let missing = client
        .call_tool(
            3,
            "add_issue_comment",
            json!({"owner": "octo", "repo": "hello", "issue_number": 77, "body": "x"}),
        )
        .await;
    assert!(
        text_of(&missing).starts_with("Issue #77 in octo/hello not found"),
        "{missing}"
    );
    let empty = client
        .call_tool(
            4,
            "add_issue_comment",
            json!({"owner": "octo", "repo": "hello", "issue_number": number, "body": ""}),
        )
        .await;
    assert_eq!(empty["isError"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_failures_become_sentences_the_model_can_act_on() {
    let fake = FakeGitHub::start_with_tokens(&["ghp_someoneelsestokenxx"]);
    fake.add_repo("octo", "hello");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    let rejected = client
        .call_tool(1, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    assert!(
        text_of(&rejected).starts_with("GitHub rejected the token (expired or revoked?)"),
        "{rejected}"
    );

    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    fake.fail_next(502, 3);
    let trouble = client
        .call_tool(2, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    assert!(
        text_of(&trouble).starts_with("GitHub is having trouble (HTTP 502)"),
        "{trouble}"
    );
    assert_eq!(fake.request_count(), 3, "a GET is tried 1 + 2 times");
    fake.fail_next(503, 1);
    let recovered = client
        .call_tool(3, "list_issues", json!({"owner": "octo", "repo": "hello"}))
        .await;
    assert_ne!(recovered["isError"], true, "a retry succeeded: {recovered}");
}

/// Every tool, one table: a bad argument, a repository that does not exist, and GitHub failing.
#[tokio::test(flavor = "multi_thread")]
async fn every_tool_reports_bad_arguments_missing_repositories_and_github_failures() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", seed("Present"));
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;
    let on = |repo: &str, extra: Value| {
        let mut args = json!({"owner": "octo", "repo": repo});
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        args
    };
    let tools: [(&str, Value); 9] = [
        ("list_issues", json!({})),
        ("get_issue", json!({"issue_number": 1})),
        ("create_issue", json!({"title": "T"})),
        ("update_issue", json!({"issue_number": 1, "title": "T"})),
        ("list_issues_paginated", json!({})),
        (
            "batch_label_issues",
            json!({"issue_numbers": [1], "labels": ["x"]}),
        ),
        ("add_issue_comment", json!({"issue_number": 1, "body": "B"})),
        ("list_issue_comments", json!({"issue_number": 1})),
        ("search_issues", json!({})),
    ];
    let mut id = 0;
    for (tool, extra) in tools {
        let args = |repo: &str| {
            if tool == "search_issues" {
                json!({"query": format!("repo:octo/{repo}")})
            } else {
                on(repo, extra.clone())
            }
        };
        id += 1;
        let mut bad = args("hello");
        bad["bogus"] = json!(1);
        let refused = client.call_tool(id, tool, bad).await;
        assert!(
            text_of(&refused).starts_with("unknown argument bogus; this tool takes"),
            "{tool}: {refused}"
        );

        id += 1;
        let works = client.call_tool(id, tool, args("hello")).await;
        assert_ne!(works["isError"], true, "{tool}: {works}");

        if tool != "search_issues" {
            id += 1;
            let missing = client.call_tool(id, tool, args("absent")).await;
            assert_eq!(missing["isError"], true, "{tool}");
            assert!(text_of(&missing).contains("not found"), "{tool}: {missing}");
        }

        id += 1;
        fake.fail_next(502, 3);
        let failing = client.call_tool(id, tool, args("hello")).await;
        assert_eq!(failing["isError"], true, "{tool}");
        assert!(
            text_of(&failing).contains("GitHub is having trouble (HTTP 502)"),
            "{tool}: {failing}"
        );
        fake.fail_next(502, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_remember_accepted_calls_only_and_at_most_100_repositories() {
    let fake = FakeGitHub::start();
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    // Refused on its arguments: no GitHub call, and the repository is not remembered.
    let refused = client
        .call_tool(
            1,
            "get_issue",
            json!({"owner": "octo", "repo": "refused", "issue_number": 0}),
        )
        .await;
    assert_eq!(refused["isError"], true, "{refused}");
    // Accepted (GitHub answers 404): remembered, up to the bound, the oldest forgotten first.
    for n in 0..105 {
        client
            .call_tool(
                2 + n,
                "get_issue",
                json!({"owner": "octo", "repo": format!("r-{n:03}"), "issue_number": 1}),
            )
            .await;
    }
    let complete = json!({"ref": {"type": "ref/prompt", "name": "triage-issue"},
        "argument": {"name": "repo", "value": ""}, "context": {"arguments": {"owner": "octo"}}});
    let answer = client
        .request(json!(200), "completion/complete", complete)
        .await;
    let completion = &answer["result"]["completion"];
    assert_eq!(completion["total"], 100, "{answer}");
    let newest: Vec<String> = (5..105).map(|n| format!("r-{n:03}")).collect();
    assert_eq!(completion["values"], json!(newest), "{answer}");
}

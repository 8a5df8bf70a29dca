//! The `issue://` resources, the prompts and completions, end to end over SSE against the fake
//! GitHub. The snapshot of the tool definitions is in `tool_definitions.rs`.

mod common;

use common::{
    fake_github::{FakeGitHub, IssueSeed},
    github_server, session,
};
use serde_json::{Value, json};

fn fake_with_issues() -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            title: "First".into(),
            body: Some("A long story".into()),
            ..IssueSeed::default()
        },
    );
    fake.add_pull_request("octo", "hello", "A pull request");
    fake.add_issue(
        "octo",
        "hello",
        IssueSeed {
            title: "Closed one".into(),
            state: "closed".into(),
            ..IssueSeed::default()
        },
    );
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake
}

async fn read(client: &mut common::SseClient, id: u64, uri: &str) -> Value {
    client
        .request(json!(id), "resources/read", json!({"uri": uri}))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_listed_and_each_resolves() {
    let fake = fake_with_issues();
    for n in 0..5 {
        fake.add_comment("octo", "hello", 1, "hubot", &format!("comment {n}"));
    }
    let server = github_server(&fake, &[("GITHUB_ISSUE_MCP__TOOLS__COMMENTS_MAX", "3")]);
    let mut client = session(&server, "2025-06-18").await;

    let listed = client
        .request(json!(1), "resources/templates/list", json!({}))
        .await;
    let templates = listed["result"]["resourceTemplates"].as_array().unwrap();
    let uris: Vec<&str> = templates
        .iter()
        .map(|t| t["uriTemplate"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "issue://{owner}/{repo}/{number}",
            "issue://{owner}/{repo}/{number}/comments",
            "issue://{owner}/{repo}/open"
        ]
    );
    for template in templates {
        assert_eq!(template["mimeType"], "text/markdown");
        assert!(template["title"].is_string() && template["description"].is_string());
    }

    let issue = read(&mut client, 2, "issue://octo/hello/1").await;
    let contents = &issue["result"]["contents"][0];
    assert_eq!(contents["uri"], "issue://octo/hello/1");
    assert_eq!(contents["mimeType"], "text/markdown");
    assert!(
        contents["text"].as_str().unwrap().contains("A long story"),
        "{issue}"
    );

    let comments = read(&mut client, 3, "issue://octo/hello/1/comments").await;
    let text = comments["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("comment 0") && text.contains("comment 2"),
        "{text}"
    );
    assert!(!text.contains("comment 3"), "{text}");
    assert!(
        text.contains("Only the first 3 comments are shown"),
        "{text}"
    );

    let open = read(&mut client, 4, "issue://octo/hello/open").await;
    let text = open["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(text.contains("#1 First") && text.contains("#4 "), "{text}");
    assert!(
        !text.contains("Closed one") && !text.contains("A pull request"),
        "{text}"
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.path_and_query.contains("/issues/open")),
        "\"open\" was read as an issue number"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_and_missing_resources_get_the_specs_errors() {
    let fake = fake_with_issues();
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    let malformed = read(&mut client, 1, "issue://octo/hello/first").await;
    assert_eq!(malformed["error"]["code"], -32602, "{malformed}");
    assert!(
        malformed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("issue://{owner}/{repo}/{number}")
    );
    let missing = read(&mut client, 2, "issue://octo/hello/99").await;
    assert_eq!(missing["error"]["code"], -32002, "{missing}");
    assert_eq!(missing["error"]["data"]["uri"], "issue://octo/hello/99");
    let other = read(&mut client, 3, "file:///etc/passwd").await;
    assert_eq!(other["error"]["code"], -32002, "{other}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_render_with_real_tool_names_and_check_arguments() {
    let fake = fake_with_issues();
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    let listed = client.request(json!(1), "prompts/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["triage-issue", "weekly-summary", "bug-report-template"]
    );

    let triage = client
        .request(
            json!(2),
            "prompts/get",
            json!({"name": "triage-issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": "1"}}),
        )
        .await;
    let message = &triage["result"]["messages"][0];
    assert_eq!(message["role"], "user");
    let text = message["content"]["text"].as_str().unwrap();
    assert!(
        text.contains("get_issue") && text.contains("issue://octo/hello/1/comments"),
        "{text}"
    );

    let summary = client
        .request(
            json!(3),
            "prompts/get",
            json!({"name": "weekly-summary", "arguments": {"owner": "octo", "repo": "hello"}}),
        )
        .await;
    assert!(
        summary["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("issue://octo/hello/open")
    );
    let template = client
        .request(
            json!(4),
            "prompts/get",
            json!({"name": "bug-report-template"}),
        )
        .await;
    assert!(
        template["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("create_issue")
    );

    let missing = client
        .request(
            json!(5),
            "prompts/get",
            json!({"name": "triage-issue", "arguments": {"owner": "octo"}}),
        )
        .await;
    assert_eq!(missing["error"]["code"], -32602);
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("repo, issue_number"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_offer_used_repositories_and_open_issue_numbers() {
    let fake = fake_with_issues();
    fake.add_repo("octo", "world");
    let server = github_server(&fake, &[]);
    let mut client = session(&server, "2025-06-18").await;

    for repo in ["hello", "world"] {
        client
            .call_tool(1, "list_issues", json!({"owner": "octo", "repo": repo}))
            .await;
    }
    let complete = |id: u64, reference: Value, name: &str, value: &str, context: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "completion/complete", "params": {
            "ref": reference, "argument": {"name": name, "value": value}, "context": {"arguments": context}}})
    };
    let prompt = json!({"type": "ref/prompt", "name": "triage-issue"});

    client
        .post(complete(2, prompt.clone(), "owner", "oc", json!({})))
        .await;
    let owners = client.next_message().await;
    assert_eq!(
        owners["result"]["completion"]["values"],
        json!(["octo"]),
        "{owners}"
    );

    client
        .post(complete(
            3,
            prompt.clone(),
            "repo",
            "",
            json!({"owner": "octo"}),
        ))
        .await;
    let repos = client.next_message().await;
    assert_eq!(
        repos["result"]["completion"]["values"],
        json!(["hello", "world"])
    );

    let template = json!({"type": "ref/resource", "uri": "issue://{owner}/{repo}/{number}"});
    client
        .post(complete(
            4,
            template,
            "number",
            "",
            json!({"owner": "octo", "repo": "hello"}),
        ))
        .await;
    let open = client.next_message().await;
    assert_eq!(
        open["result"]["completion"]["values"],
        json!(["1", "4"]),
        "{open}"
    );

    client
        .post(complete(5, prompt, "colour", "", json!({})))
        .await;
    let unknown = client.next_message().await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn initialize_declares_completions() {
    let fake = fake_with_issues();
    let server = github_server(&fake, &[]);
    let mut client = common::SseClient::connect(&server).await;
    let result = client.initialize("2025-06-18").await;
    assert_eq!(result["capabilities"]["completions"], json!({}));
    assert!(result["capabilities"]["tools"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscribed_issue_is_watched_with_free_304s_and_its_change_announced() {
    let fake = fake_with_issues();
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__MCP__SUBSCRIPTION_POLL_MS", "50")],
    );
    let mut client = session(&server, "2025-06-18").await;

    let subscribed = client
        .request(
            json!(1),
            "resources/subscribe",
            json!({"uri": "issue://octo/hello/1"}),
        )
        .await;
    assert_eq!(subscribed["result"], json!({}), "{subscribed}");
    // Wait until the watch has re-read the issue a few times and GitHub answered 304 (no
    // budget spent).
    let deadline = std::time::Instant::now() + common::WAIT;
    while fake.requests().iter().filter(|r| r.status == 304).count() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no conditional re-reads"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Unchanged, so nothing was announced: the next message is the answer to a ping, not a
    // notification (each reading fences the body with a new code; that is not a change).
    let pong = client.request(json!(10), "ping", json!({})).await;
    assert_eq!(pong["result"], json!({}), "{pong}");

    client
        .post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "update_issue",
            "arguments": {"owner": "octo", "repo": "hello", "issue_number": 1, "title": "Renamed"}}}))
        .await;
    // The tool's answer and the change notification, in whichever order they come.
    let (mut answered, mut announced) = (false, false);
    while !(answered && announced) {
        let message = client.next_message().await;
        if message["id"] == 2 {
            assert_ne!(message["result"]["isError"], true, "{message}");
            answered = true;
        } else {
            assert_eq!(
                message["method"], "notifications/resources/updated",
                "{message}"
            );
            assert_eq!(message["params"]["uri"], "issue://octo/hello/1");
            announced = true;
        }
    }

    let gone = client
        .request(
            json!(3),
            "resources/unsubscribe",
            json!({"uri": "issue://octo/hello/1"}),
        )
        .await;
    assert_eq!(gone["result"], json!({}));
    let unknown = client
        .request(json!(4), "resources/subscribe", json!({"uri": "nope://x"}))
        .await;
    assert_eq!(unknown["error"]["code"], -32002, "{unknown}");
    let malformed = client
        .request(
            json!(5),
            "resources/subscribe",
            json!({"uri": "issue://octo/hello/first"}),
        )
        .await;
    assert_eq!(malformed["error"]["code"], -32602, "{malformed}");
}

/// Each subscription is re-read from GitHub on every poll, with the session's token: one
/// client must not be able to spend a shared token's budget by subscribing to thousands.
#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_per_session_are_bounded() {
    let fake = fake_with_issues();
    let server = github_server(
        &fake,
        &[(
            "GITHUB_ISSUE_MCP__LIMITS__MAX_SUBSCRIPTIONS_PER_SESSION",
            "2",
        )],
    );
    let mut client = session(&server, "2025-06-18").await;
    let mut id = 0;
    let mut subscribe = async |method: &str, number: u64| {
        id += 1;
        let uri = format!("issue://octo/hello/{number}");
        client.request(json!(id), method, json!({"uri": uri})).await
    };
    for number in [1, 2, 1] {
        let answer = subscribe("resources/subscribe", number).await;
        assert_eq!(answer["result"], json!({}), "{answer}");
    }
    let refused = subscribe("resources/subscribe", 3).await;
    assert_eq!(refused["error"]["code"], -32000, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("limits.max_subscriptions_per_session"),
        "{message}"
    );
    let answer = subscribe("resources/unsubscribe", 1).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
    let answer = subscribe("resources/subscribe", 3).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
}

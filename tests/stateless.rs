//! The stateless revision (2026-07-28) on `/mcp`, spoken raw: era detection beside sessions,
//! the validation ladder with each error's status and code, `server/discover`, results'
//! envelope, `input_required` round trips with a sealed `requestState` (tampered, moved to
//! another principal, or used by another server without the shared key: refused), and the
//! `subscriptions/listen` stream.

mod common;

use common::{
    SseEvent, SseReader, TestServer,
    fake_github::{FakeGitHub, IssueSeed},
    github_server, metric, settings,
    stateless::{VERSION, meta, post, request},
};
use reqwest::{Client, Response};
use serde_json::{Value, json};

const KEY: &str = "a-shared-request-state-key-of-32-bytes-or-more";

async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert!(
        response.headers().get("mcp-session-id").is_none(),
        "no session on the stateless path"
    );
    (status, response.json().await.unwrap())
}

fn server() -> TestServer {
    TestServer::start_github(settings(&[
        ("MCP_CONFORMANCE_FIXTURES", "1"),
        ("GITHUB_ISSUE_MCP__MCP__REQUEST_STATE_KEY", KEY),
    ]))
}

/// A ladder case: its name, the body, header changes, and the status and code expected.
type Case<'a> = (&'a str, Value, Vec<(&'a str, Option<&'a str>)>, u16, i64);

#[tokio::test]
async fn every_rung_of_the_ladder_has_its_status_and_code() {
    let server = server();
    let url = server.url("/mcp");
    let discover = request(7, "server/discover", json!({}));
    let no_meta = json!({"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {}});
    let mut other_version = discover.clone();
    other_version["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("v9");
    let cases: Vec<Case<'_>> = vec![
        ("no envelope", no_meta, vec![], 400, -32602),
        (
            "header version differs",
            discover.clone(),
            vec![("MCP-Protocol-Version", Some("2026-08-01"))],
            400,
            -32020,
        ),
        (
            "Mcp-Method differs",
            discover.clone(),
            vec![("Mcp-Method", Some("tools/list"))],
            400,
            -32020,
        ),
        (
            "Mcp-Method missing",
            discover.clone(),
            vec![("Mcp-Method", None)],
            400,
            -32020,
        ),
        (
            "unsupported version",
            other_version,
            vec![("MCP-Protocol-Version", Some("v9"))],
            400,
            -32022,
        ),
        (
            "Mcp-Name differs",
            request(7, "tools/call", json!({"name": "test_simple_text"})),
            vec![("Mcp-Name", Some("test_error_handling"))],
            400,
            -32020,
        ),
        (
            "bad base64 in Mcp-Name",
            request(7, "tools/call", json!({"name": "test_simple_text"})),
            vec![("Mcp-Name", Some("=?base64?dGVzdA?="))],
            400,
            -32020,
        ),
        (
            "Mcp-Param differs",
            request(
                7,
                "tools/call",
                json!({"name": "test_custom_header", "arguments": {"region": "eu"}}),
            ),
            vec![("Mcp-Param-Region", Some("us"))],
            400,
            -32020,
        ),
        (
            "Mcp-Param missing",
            request(
                7,
                "tools/call",
                json!({"name": "test_custom_header", "arguments": {"region": "eu"}}),
            ),
            vec![],
            400,
            -32020,
        ),
        (
            "removed method",
            request(7, "ping", json!({})),
            vec![],
            404,
            -32601,
        ),
        (
            "initialize with a claim",
            request(7, "initialize", json!({})),
            vec![],
            404,
            -32601,
        ),
        (
            "unknown resource",
            request(7, "resources/read", json!({"uri": "test://nothing-here"})),
            vec![],
            200,
            -32602,
        ),
    ];
    for (case, body, headers, status, code) in cases {
        let (got, answer) = json_of(post(&url, &body, &headers).await).await;
        assert_eq!(got, status, "{case}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{case}: {answer}");
        assert_eq!(answer["id"], 7, "{case}: the id is echoed");
    }
    let mut missing = request(9, "tools/call", json!({"name": "test_missing_capability"}));
    missing["params"]["_meta"] = meta(json!({}));
    let (status, answer) = json_of(post(&url, &missing, &[]).await).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(-32021)));
    assert_eq!(
        answer["error"]["data"],
        json!({"requiredCapabilities": {"sampling": {}}})
    );
    // Not JSON, from a client that named the revision: no id to echo, and none made up.
    let response = Client::new()
        .post(&url)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", VERSION)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(response).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!(-32700)));
    assert!(answer.get("id").is_none(), "{answer}");
}

#[tokio::test]
async fn discover_and_results_carry_the_revision_envelope_beside_sessions() {
    let server = server();
    let url = server.url("/mcp");
    let (status, discovered) =
        json_of(post(&url, &request(1, "server/discover", json!({})), &[]).await).await;
    assert_eq!(status, 200, "{discovered}");
    let result = &discovered["result"];
    assert_eq!(result["supportedVersions"], json!([VERSION]));
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["cacheScope"], "public");
    assert!(result["ttlMs"].is_u64());
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "github-issue-manager"
    );
    let (_, listed) = json_of(post(&url, &request(2, "tools/list", json!({})), &[]).await).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"list_issues") && names.contains(&"test_missing_capability"));
    assert!(
        !names.contains(&"test_sampling"),
        "session-only fixtures are not offered"
    );
    let (_, read) = json_of(
        post(
            &url,
            &request(3, "resources/read", json!({"uri": "test://static-text"})),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(read["result"]["cacheScope"], "private");

    // A handshake-era client on the same URL gets a session, as before.
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "legacy", "version": "1"}}});
    let response = post(
        &url,
        &initialize,
        &[("MCP-Protocol-Version", Some("2025-11-25"))],
    )
    .await;
    assert!(response.headers().get("mcp-session-id").is_some());
    let answer: Value = response.json().await.unwrap();
    assert!(answer["result"].get("resultType").is_none(), "{answer}");

    let metrics = reqwest::get(server.url("/metrics")).await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for counted in [
        "mcp_requests_total{era=\"stateless\",method=\"server/discover\",outcome=\"ok\"} 1",
        "mcp_requests_total{era=\"stateless\",method=\"tools/list\",outcome=\"ok\"} 1",
        "mcp_requests_total{era=\"session\",method=\"initialize\",outcome=\"ok\"} 1",
    ] {
        assert!(metrics.contains(counted), "{counted} in\n{metrics}");
    }
}

/// Round 1 of the state-keeping fixture: its `requestState`.
async fn first_round(url: &str) -> String {
    let call = request(
        1,
        "tools/call",
        json!({"name": "test_input_required_result_request_state"}),
    );
    let (status, answer) = json_of(post(url, &call, &[]).await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["resultType"], "input_required", "{answer}");
    assert!(answer["result"]["inputRequests"]["confirm"].is_object());
    answer["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string()
}

fn retry(state: &str) -> Value {
    request(
        2,
        "tools/call",
        json!({
            "name": "test_input_required_result_request_state",
            "inputResponses": {"confirm": {"action": "accept", "content": {"ok": true}}},
            "requestState": state,
        }),
    )
}

#[tokio::test]
async fn a_round_trip_completes_on_another_server_with_the_shared_key_only() {
    let first = server();
    let second = server();
    let alone = TestServer::start_github(settings(&[("MCP_CONFORMANCE_FIXTURES", "1")]));
    let state = first_round(&first.url("/mcp")).await;
    let (_, done) = json_of(post(&second.url("/mcp"), &retry(&state), &[]).await).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert!(
        done["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("state-ok")
    );
    for (case, url, state) in [
        ("tampered", first.url("/mcp"), format!("{state}-TAMPERED")),
        ("another key", alone.url("/mcp"), state.clone()),
    ] {
        let (status, refused) = json_of(post(&url, &retry(&state), &[]).await).await;
        assert_eq!(status, 200, "{case}");
        assert_eq!(refused["error"]["code"], -32602, "{case}: {refused}");
    }
    // Bound to its request: the same state for another tool's call is refused.
    let mut moved = retry(&state);
    moved["params"]["name"] = json!("test_input_required_result_tampered_state");
    let (_, refused) = json_of(post(&first.url("/mcp"), &moved, &[]).await).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
}

/// The next message on an SSE stream, past keep-alive comments.
async fn next_message(stream: &mut SseReader) -> Value {
    loop {
        match stream.next().await.expect("the stream stays open") {
            SseEvent::Comment(_) => continue,
            SseEvent::Event { data, .. } => return serde_json::from_str(&data).unwrap(),
        }
    }
}

#[tokio::test]
async fn a_listen_stream_is_acknowledged_then_hears_only_what_it_asked_for() {
    let server = server();
    let url = server.url("/mcp");
    let listen = request(
        1_764_000_000_000,
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true, "resourceSubscriptions": ["x://y"]}}),
    );
    let response = post(&url, &listen, &[]).await;
    assert_eq!(response.status(), 200);
    let mut stream = SseReader::new(response);
    let ack = next_message(&mut stream).await;
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    let tag = "io.modelcontextprotocol/subscriptionId";
    assert_eq!(ack["params"]["_meta"][tag], 1_764_000_000_000u64);
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true})
    );
    for trigger in ["test_trigger_prompt_change", "test_trigger_tool_change"] {
        let (status, _) = json_of(
            post(
                &url,
                &request(2, "tools/call", json!({"name": trigger})),
                &[],
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
    }
    let changed = next_message(&mut stream).await;
    assert_eq!(
        changed["method"], "notifications/tools/list_changed",
        "the prompts change was not asked for"
    );
    assert_eq!(changed["params"]["_meta"][tag], 1_764_000_000_000u64);
}

/// `resourceSubscriptions` on listen streams: each stream is told of a change to an issue it
/// watches, with its own subscription id, while the issue is re-read once per poll however
/// many listen (conditional reads: 304s while unchanged).
#[tokio::test]
async fn listeners_hear_of_issue_changes_from_one_shared_read() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    let server = github_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__MCP__SUBSCRIPTION_POLL_MS", "50")],
    );
    let url = server.url("/mcp");
    let uri = "issue://octo/hello/1";
    let mut streams = Vec::new();
    for id in [11, 12] {
        let listen = request(
            id,
            "subscriptions/listen",
            json!({"notifications": {"resourceSubscriptions": [uri, "nothing://here"]}}),
        );
        let mut stream = SseReader::new(post(&url, &listen, &[]).await);
        let ack = next_message(&mut stream).await;
        assert_eq!(
            ack["params"]["notifications"],
            json!({"resourceSubscriptions": [uri]}),
            "only what can be read is watched"
        );
        streams.push((id, stream));
    }
    let is_issue_read = |r: &&common::fake_github::RecordedRequest| {
        r.method == "GET"
            && r.path_and_query.starts_with("/repos/octo/hello/issues/1")
            && !r.path_and_query.contains("comments")
    };
    let deadline = std::time::Instant::now() + common::WAIT;
    while fake
        .requests()
        .iter()
        .filter(is_issue_read)
        .filter(|r| r.status == 304)
        .count()
        < 4
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no conditional re-reads"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // One read per poll, not one per listener: after the first, reads are a poll apart.
    let reads: Vec<_> = fake
        .requests()
        .iter()
        .filter(is_issue_read)
        .map(|r| r.at)
        .collect();
    for pair in reads[1..].windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= std::time::Duration::from_millis(25),
            "two reads {gap:?} apart: {reads:?}"
        );
    }

    let rename = request(
        3,
        "tools/call",
        json!({"name": "update_issue", "arguments":
            {"owner": "octo", "repo": "hello", "issue_number": 1, "title": "Renamed"}}),
    );
    let (_, renamed) = json_of(post(&url, &rename, &[]).await).await;
    assert_ne!(renamed["result"]["isError"], true, "{renamed}");
    for (id, stream) in &mut streams {
        let updated = next_message(stream).await;
        assert_eq!(
            updated["method"], "notifications/resources/updated",
            "{updated}"
        );
        assert_eq!(updated["params"]["uri"], uri);
        assert_eq!(
            updated["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            *id
        );
    }
}

/// On the stateless revision the confirmation is an `input_required` round: nothing changes
/// until the retry brings the user's yes; a client without `elicitation` is not asked.
#[tokio::test]
async fn closing_an_issue_is_an_input_required_round_where_the_client_can_ask() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    fake.add_issue("octo", "hello", IssueSeed::default());
    let server = github_server(&fake, &[]);
    let url = server.url("/mcp");
    let arguments = json!({"owner": "octo", "repo": "hello", "issue_number": 1, "state": "closed"});
    let first = request(
        1,
        "tools/call",
        json!({"name": "update_issue", "arguments": arguments}),
    );
    let (_, asked) = json_of(post(&url, &first, &[]).await).await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let question = &asked["result"]["inputRequests"]["confirm"];
    assert_eq!(question["method"], "elicitation/create", "{asked}");
    assert_eq!(
        fake.issue("octo", "hello", 1).unwrap()["state"],
        "open",
        "not yet"
    );

    let state = asked["result"]["requestState"].clone();
    assert!(state.is_string(), "the question's state: {asked}");
    let yes = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    // A yes the server did not ask for (no state) is asked again.
    let forged = request(
        2,
        "tools/call",
        json!({"name": "update_issue", "arguments": arguments, "inputResponses": yes}),
    );
    let (_, again) = json_of(post(&url, &forged, &[]).await).await;
    assert_eq!(again["result"]["resultType"], "input_required", "{again}");
    assert_eq!(fake.issue("octo", "hello", 1).unwrap()["state"], "open");
    for (action, closed) in [("decline", false), ("accept", true)] {
        let retry = request(
            2,
            "tools/call",
            json!({"name": "update_issue", "arguments": arguments, "requestState": state,
                   "inputResponses": {"confirm": {"action": action, "content": {"confirm": true}}}}),
        );
        let (_, answer) = json_of(post(&url, &retry, &[]).await).await;
        assert_eq!(answer["result"]["resultType"], "complete", "{answer}");
        let state = fake.issue("octo", "hello", 1).unwrap()["state"].clone();
        assert_eq!(state == "closed", closed, "{action}: {answer}");
    }

    let mut unasked = request(
        3,
        "tools/call",
        json!({"name": "update_issue", "arguments":
            {"owner": "octo", "repo": "hello", "issue_number": 2, "state": "closed"}}),
    );
    unasked["params"]["_meta"] = meta(json!({}));
    let (_, answer) = json_of(post(&url, &unasked, &[]).await).await;
    assert_eq!(answer["result"]["resultType"], "complete", "{answer}");
    assert_eq!(fake.issue("octo", "hello", 2).unwrap()["state"], "closed");
}

/// Labelling ten issues or more is confirmed first; fewer go ahead at once.
#[tokio::test]
async fn a_large_batch_label_is_confirmed_first_and_a_small_one_is_not() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    for _ in 0..10 {
        fake.add_issue("octo", "hello", IssueSeed::default());
    }
    let server = github_server(&fake, &[]);
    let url = server.url("/mcp");
    let batch = |id, numbers: Vec<u64>| {
        request(
            id,
            "tools/call",
            json!({"name": "batch_label_issues", "arguments":
                {"owner": "octo", "repo": "hello", "issue_numbers": numbers, "labels": ["triage"]}}),
        )
    };
    let (_, large) = json_of(post(&url, &batch(1, (1..=10).collect()), &[]).await).await;
    assert_eq!(large["result"]["resultType"], "input_required", "{large}");
    assert!(
        fake.requests().iter().all(|r| r.method != "POST"),
        "no label added before the user says yes"
    );
    let (_, small) = json_of(post(&url, &batch(2, vec![1, 2]), &[]).await).await;
    assert_eq!(small["result"]["resultType"], "complete", "{small}");
    assert_eq!(
        small["result"]["structuredContent"]["succeeded"], 2,
        "{small}"
    );
}

/// A client that goes away cancels its stateless call, and a call still waiting for the
/// token's turn is then never sent to GitHub (one token's calls go out one at a time).
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_cancels_its_queued_github_call() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    for _ in 0..6 {
        fake.add_issue("octo", "hello", IssueSeed::default());
    }
    fake.set_latency(std::time::Duration::from_millis(500));
    let server = github_server(&fake, &[]);
    let url = server.url("/mcp");
    let get = |n: u64| {
        request(
            n,
            "tools/call",
            json!({"name": "get_issue", "arguments": {"owner": "octo", "repo": "hello", "issue_number": n}}),
        )
    };
    let call = |n: u64| {
        let url = url.clone();
        tokio::spawn(async move { post(&url, &get(n), &[]).await.text().await })
    };
    let first = call(1);
    let deadline = std::time::Instant::now() + common::WAIT;
    while fake.request_count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "#1 never reached GitHub"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let queued: Vec<_> = (2..=5).map(call).collect();
    while metric(&server, "github_calls_waiting").await < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the calls never queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for task in &queued {
        task.abort();
    }
    // Their connections close; the server drops the calls.
    while metric(&server, "mcp_stateless_in_flight").await > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the calls were not dropped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(first.await.unwrap().unwrap().contains("\"number\":1"));
    let (_, sixth) = json_of(post(&url, &get(6), &[]).await).await;
    assert_ne!(sixth["result"]["isError"], true, "{sixth}");
    let sent = fake.paths_with("/issues/");
    assert_eq!(
        sent,
        ["/repos/octo/hello/issues/1", "/repos/octo/hello/issues/6"],
        "the abandoned calls were not sent"
    );
}

/// A stateless call that carries a progress token is answered as an SSE stream: the
/// progress of each issue of a batch, then the result, with no event ids.
#[tokio::test]
async fn a_batch_reports_progress_per_issue_on_its_own_stream() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    for _ in 0..3 {
        fake.add_issue("octo", "hello", IssueSeed::default());
    }
    let server = github_server(&fake, &[]);
    let mut body = request(
        5,
        "tools/call",
        json!({"name": "batch_label_issues", "arguments":
            {"owner": "octo", "repo": "hello", "issue_numbers": [1, 2, 3], "labels": ["triage"]}}),
    );
    // Beside the envelope.
    body["params"]["_meta"]["progressToken"] = json!("p-5");
    let response = post(&server.url("/mcp"), &body, &[]).await;
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let raw = response.text().await.unwrap();
    assert!(
        !raw.contains("\nid:") && !raw.starts_with("id:"),
        "no event ids: {raw}"
    );
    let messages: Vec<Value> = raw
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    let progress: Vec<u64> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| {
            assert_eq!(m["params"]["progressToken"], "p-5");
            m["params"]["progress"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(progress, [1, 2, 3]);
    let last = messages.last().unwrap();
    assert_eq!(last["id"], 5, "the result comes last: {last}");
    assert_eq!(last["result"]["structuredContent"]["succeeded"], 3);
}

/// Two server processes behind one client, which sends each request to the other one: no
/// request depends on an earlier one having reached the same process (given the shared
/// requestState key), so every call succeeds, the input-required round trip included.
#[tokio::test]
async fn a_client_alternating_between_two_servers_never_notices() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "hello");
    fake.add_issue("octo", "hello", IssueSeed::default());
    let shared = [
        ("MCP_CONFORMANCE_FIXTURES", "1"),
        ("GITHUB_ISSUE_MCP__MCP__REQUEST_STATE_KEY", KEY),
    ];
    let servers = [github_server(&fake, &shared), github_server(&fake, &shared)];
    let urls: Vec<String> = servers.iter().map(|s| s.url("/mcp")).collect();
    let issue = json!({"owner": "octo", "repo": "hello", "issue_number": 1});
    let mut calls = std::collections::VecDeque::from([
        request(1, "server/discover", json!({})),
        request(2, "tools/list", json!({})),
        request(
            3,
            "tools/call",
            json!({"name": "get_issue", "arguments": issue}),
        ),
        request(4, "resources/read", json!({"uri": "issue://octo/hello/1"})),
        request(
            5,
            "prompts/get",
            json!({"name": "triage-issue", "arguments":
            {"owner": "octo", "repo": "hello", "issue_number": "1"}}),
        ),
        request(
            6,
            "tools/call",
            json!({"name": "test_input_required_result_multi_round"}),
        ),
    ]);
    let mut answers = Vec::new();
    let mut turn = 0;
    while let Some(call) = calls.pop_front() {
        let (status, answer) = json_of(post(&urls[turn % 2], &call, &[]).await).await;
        turn += 1;
        assert_eq!(status, 200, "{call}: {answer}");
        let result = &answer["result"];
        assert!(result.is_object(), "{call}: {answer}");
        if result["resultType"] == "input_required" {
            // The next round goes to the other process, with the state from this one.
            let key = result["inputRequests"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone();
            let mut retry = call.clone();
            retry["id"] = json!(answer["id"].as_u64().unwrap() + 100);
            retry["params"]["inputResponses"] =
                json!({key: {"action": "accept", "content": {"value": "yes"}}});
            retry["params"]["requestState"] = result["requestState"].clone();
            calls.push_front(retry);
        }
        answers.push(answer);
    }
    let last = answers.last().unwrap();
    assert_eq!(last["result"]["resultType"], "complete", "{last}");
    assert!(
        last["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("both rounds"),
        "{last}"
    );
    assert!(
        turn >= 8,
        "two input-required rounds, then the result: {turn} requests"
    );
    assert!(
        answers
            .iter()
            .any(|a| a["result"]["structuredContent"]["issue"]["number"] == 1)
    );
}

/// A `requestState` is good for `mcp.request_state_ttl_secs`: after that, its retry is
/// refused like a tampered one.
#[tokio::test]
async fn an_expired_request_state_is_refused() {
    let server = TestServer::start_github(settings(&[
        ("MCP_CONFORMANCE_FIXTURES", "1"),
        ("GITHUB_ISSUE_MCP__MCP__REQUEST_STATE_TTL_SECS", "1"),
    ]));
    let url = server.url("/mcp");
    let state = first_round(&url).await;
    // Expiry is in whole seconds: a state sealed at second S with a TTL of 1 is good through
    // second S + 1. The waiting is the thing tested: there is no event to wait for.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let (status, refused) = json_of(post(&url, &retry(&state), &[]).await).await;
    assert_eq!(status, 200);
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let fresh = first_round(&url).await;
    let (_, done) = json_of(post(&url, &retry(&fresh), &[]).await).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
}

//! Replicas behind a balancer with no affinity (issue 18), as real processes around a real
//! Redis: a session opened on one replica is served through every other, on both
//! transports; a killed replica's sessions are gone at once through the others; and with
//! Redis down, nothing hangs and everything recovers once it is back.

mod common;

use std::time::Duration;

use common::{
    SseClient, TestServer,
    cluster::{
        Redis, Replica, answer, initialize, open, post, post_with, replicas, signal,
        wait_for_metric,
    },
    fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN},
    metric,
};
use reqwest::Client;
use serde_json::{Value, json};

/// What "at once" means here: far below any timeout, far above a loaded machine's hiccup.
const AT_ONCE: Duration = Duration::from_secs(3);

async fn cluster(count: usize) -> (FakeGitHub, Redis, Vec<Replica>) {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "tools");
    fake.add_issue(
        "octo",
        "tools",
        IssueSeed {
            title: "Replicas share the load".into(),
            ..IssueSeed::default()
        },
    );
    around(
        fake,
        count,
        &[("GITHUB_ISSUE_MCP__GITHUB__MUTATION_INTERVAL_MS", "0")],
    )
    .await
}

/// Redis and `count` replicas using the server's token on `fake`, with `extra` settings.
async fn around(
    fake: FakeGitHub,
    count: usize,
    extra: &[(&str, &str)],
) -> (FakeGitHub, Redis, Vec<Replica>) {
    let redis = Redis::start().await;
    let mut env = vec![
        ("GITHUB_TOKEN", TEST_TOKEN),
        ("GITHUB_API_URL", fake.base_url.as_str()),
    ];
    env.extend_from_slice(extra);
    let replicas = replicas(&redis, count, &env).await;
    (fake, redis, replicas)
}

/// A session opened on each replica, in their order.
async fn a_session_on_each(nodes: &[Replica]) -> Vec<String> {
    let mut sessions = Vec::new();
    for node in nodes {
        sessions.push(open(&node.server).await);
    }
    sessions
}

fn tools_list(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
}

fn list_issues(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "list_issues", "arguments": {"owner": "octo", "repo": "tools"}}})
}

/// A session id owned by a replica that never was (instance `deadbeef`).
const NOBODYS_SESSION: &str = "deadbeef-0000-8000-8000-000000000000";

#[tokio::test(flavor = "multi_thread")]
async fn a_session_is_served_through_every_replica() {
    let (_fake, _redis, nodes) = cluster(3).await;
    let [a, b, c] = [&nodes[0].server, &nodes[1].server, &nodes[2].server];
    let session = open(a).await;
    assert_eq!(
        session.as_bytes()[14],
        b'8',
        "a replica's ids are v8: {session}"
    );

    let tools = answer(post(b, Some(&session), &tools_list(1)).await).await;
    assert!(
        tools["result"]["tools"].as_array().unwrap().len() >= 9,
        "{tools}"
    );
    let listed = answer(post(c, Some(&session), &list_issues(2)).await).await;
    let text = listed["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("Replicas share the load"), "{listed}");

    // The session's one GET stream is the owner's: a second one through another replica is
    // refused as it would be on the owner itself.
    let stream = |server: &TestServer| {
        Client::new()
            .get(server.url("/mcp"))
            .header("Accept", "text/event-stream")
            .header("Mcp-Session-Id", &session)
            .send()
    };
    let open_stream = stream(b).await.unwrap();
    assert_eq!(open_stream.status(), 200);
    assert!(
        open_stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(stream(c).await.unwrap().status(), 409);
    drop(open_stream);

    let deleted = Client::new()
        .delete(c.url("/mcp"))
        .header("Mcp-Session-Id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(post(b, Some(&session), &tools_list(3)).await.status(), 404);
    assert_eq!(post(a, Some(&session), &tools_list(4)).await.status(), 404);

    // A session nobody owns is unknown through any replica.
    assert_eq!(
        post(b, Some(NOBODYS_SESSION), &tools_list(5))
            .await
            .status(),
        404
    );

    let out = r#"cluster_forwarded_requests_total{direction="out"}"#;
    let into = r#"cluster_forwarded_requests_total{direction="in"}"#;
    assert_eq!(metric(a, out).await, 0);
    assert!(
        metric(a, into).await >= 5,
        "tools/list, the call, 2 GETs, DELETE"
    );
    assert!(metric(b, out).await >= 2 && metric(c, out).await >= 3);
    assert_eq!(metric(b, "cluster_redis_up").await, 1);
    assert_eq!(metric(b, "cluster_replicas").await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_session_takes_its_posts_through_any_replica() {
    let (_fake, _redis, nodes) = cluster(3).await;
    let mut client = SseClient::connect(&nodes[0].server).await;
    // The endpoint names the owner; the balancer sends the POSTs elsewhere.
    let path = client
        .endpoint
        .split_once("/messages")
        .unwrap()
        .1
        .to_string();
    client.endpoint = nodes[1].server.url(&format!("/messages{path}"));
    client.initialize("2024-11-05").await;
    client.endpoint = nodes[2].server.url(&format!("/messages{path}"));
    let result = client
        .call_tool(1, "list_issues", json!({"owner": "octo", "repo": "tools"}))
        .await;
    assert!(common::text_of(&result).contains("Replicas share the load"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replicas_sessions_are_gone_at_once_and_the_others_carry_on() {
    let (_fake, _redis, mut nodes) = cluster(3).await;
    let doomed = open(&nodes[0].server).await;
    let survivor = open(&nodes[1].server).await;
    nodes[0].process.kill();

    let (b, c) = (&nodes[1].server, &nodes[2].server);
    let gone = tokio::time::timeout(AT_ONCE, post(c, Some(&doomed), &tools_list(1)))
        .await
        .expect("answered at once");
    assert_eq!(gone.status(), 404, "the client re-initializes on a 404");
    let fresh = open(c).await;
    answer(post(b, Some(&fresh), &tools_list(2)).await).await;
    answer(post(c, Some(&survivor), &tools_list(3)).await).await;
    assert_eq!(
        metric(c, r#"cluster_forward_failures_total{reason="gone"}"#).await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_redis_down_nothing_hangs_and_all_recovers_when_it_is_back() {
    let (_fake, mut redis, nodes) = cluster(2).await;
    let [a, b] = [&nodes[0].server, &nodes[1].server];
    let session = open(a).await;
    answer(post(b, Some(&session), &tools_list(1)).await).await;

    redis.stop();
    wait_for_metric(b, "cluster_redis_up", 0, Duration::from_secs(5)).await;
    let ready = reqwest::get(b.url("/ready")).await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "a replica serves its own sessions without Redis"
    );
    assert_eq!(ready.json::<Value>().await.unwrap()["redis"], "down");
    // The owner serves its own requests, and the replica that knows where it is forwards.
    answer(post(a, Some(&session), &tools_list(2)).await).await;
    answer(post(b, Some(&session), &tools_list(3)).await).await;
    // An owner this replica never saw cannot be looked up: 503 and a time to retry, at once.
    let unknown = tokio::time::timeout(AT_ONCE, post(b, Some(NOBODYS_SESSION), &tools_list(4)))
        .await
        .expect("answered at once");
    assert_eq!(unknown.status(), 503);
    assert_eq!(unknown.headers()["retry-after"], "1");
    // New sessions open as ever.
    let local = open(b).await;

    redis.restart().await;
    for node in &nodes {
        wait_for_metric(&node.server, "cluster_redis_up", 1, Duration::from_secs(5)).await;
    }
    assert_eq!(
        post(b, Some(NOBODYS_SESSION), &tools_list(5))
            .await
            .status(),
        404
    );
    answer(post(a, Some(&local), &tools_list(6)).await).await;
    assert_eq!(metric(a, "cluster_replicas").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_that_shuts_down_leaves_the_directory_at_once() {
    let (_fake, _redis, nodes) = cluster(3).await;
    let (leaving, staying) = (&nodes[0], &nodes[1].server);
    assert_eq!(metric(staying, "cluster_replicas").await, 3);
    let session = open(&leaving.server).await;
    common::terminate_pid(leaving.process.pid());
    // Not when its lease (10 s) runs out: it said it left.
    wait_for_metric(staying, "cluster_replicas", 2, AT_ONCE).await;
    assert_eq!(
        post(staying, Some(&session), &tools_list(1)).await.status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_limits_count_every_replicas_sessions() {
    let limit = [("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL", "2")];
    let (_fake, _redis, nodes) = around(FakeGitHub::start(), 2, &limit).await;
    let [a, b] = [&nodes[0].server, &nodes[1].server];
    let first = open(a).await;
    open(b).await;
    // Each replica alone would take another: together they hold the principal's two.
    for server in [a, b] {
        let refused = post(server, None, &initialize()).await;
        assert_eq!(refused.status(), 429, "{}", refused.text().await.unwrap());
    }
    // Once one ends, the cluster has room again (after the owner's next count, within 1 s).
    let deleted = Client::new()
        .delete(b.url("/mcp"))
        .header("Mcp-Session-Id", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let deadline = tokio::time::Instant::now() + AT_ONCE;
    loop {
        let response = post(b, None, &initialize()).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 429);
        assert!(
            tokio::time::Instant::now() < deadline,
            "no room after a DELETE"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_client_is_the_same_principal_through_any_replica() {
    let (_fake, _redis, nodes) = cluster(2).await;
    let [a, b] = [&nodes[0].server, &nodes[1].server];
    // Without authentication each client address is a principal. This client comes from
    // 127.0.0.2; the replica that forwards its requests, from 127.0.0.1.
    let http = Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let opened = post_with(&http, a, None, &initialize()).await;
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    answer(post_with(&http, b, Some(&session), &tools_list(1)).await).await;
    // Another address is another principal, forwarded or not: the session is not its own.
    let stranger = post(b, Some(&session), &tools_list(2)).await;
    assert_eq!(stranger.status(), 404);
}
fn create_issue(id: u64, title: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "create_issue", "arguments": {"owner": "octo", "repo": "tools", "title": title}}})
}

/// Whether a tool call's answer is a success (not a JSON-RPC error, not a tool error).
fn succeeded(answer: &Value) -> bool {
    answer.get("error").is_none() && answer["result"]["isError"] != json!(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn githubs_rules_for_a_token_hold_across_replicas() {
    let fake = FakeGitHub::start();
    fake.add_repo("octo", "tools");
    let spaced = [
        ("GITHUB_ISSUE_MCP__GITHUB__MUTATION_INTERVAL_MS", "300"),
        ("GITHUB_ISSUE_MCP__GITHUB__GET_RETRIES", "0"),
    ];
    let (fake, _redis, nodes) = around(fake, 3, &spaced).await;
    let servers: Vec<&TestServer> = nodes.iter().map(|node| &node.server).collect();
    let sessions = a_session_on_each(&nodes).await;

    // Mutations through three replicas at once still go out one interval apart.
    let calls = (0..6).map(|n| {
        let (server, session) = (servers[n % 3], sessions[n % 3].clone());
        async move {
            answer(
                post(
                    server,
                    Some(&session),
                    &create_issue(10 + n as u64, "spaced"),
                )
                .await,
            )
            .await
        }
    });
    for created in futures_util::future::join_all(calls).await {
        assert!(succeeded(&created), "{created}");
    }
    let mut posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST")
        .map(|request| request.at)
        .collect();
    posts.sort();
    assert_eq!(posts.len(), 6);
    for pair in posts.windows(2) {
        // Reserved one interval apart in Redis's clock, then sent after a sleep in three
        // processes: on a loaded machine a request can lag its slot by tens of ms. Without
        // the shared rules they go out milliseconds apart.
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(200), "mutations {gap:?} apart");
    }

    // A secondary limit seen through one replica holds the token back on all of them.
    fake.set_secondary_limit(Some(60), 403, 1);
    let limited = answer(post(servers[0], Some(&sessions[0]), &list_issues(20)).await).await;
    assert!(!succeeded(&limited), "{limited}");
    let sent = fake.request_count();
    for (n, server) in servers.iter().enumerate().skip(1) {
        let held = answer(post(server, Some(&sessions[n]), &list_issues(21)).await).await;
        assert!(!succeeded(&held), "{held}");
        assert!(held.to_string().contains("secondary"), "{held}");
    }
    assert_eq!(
        fake.request_count(),
        sent,
        "nothing sent during the back-off"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_budget_holds_across_replicas() {
    let (fake, _redis, nodes) = cluster(3).await;
    let servers: Vec<&TestServer> = nodes.iter().map(|node| &node.server).collect();
    let sessions = a_session_on_each(&nodes).await;
    // The last unit of the budget, spent through the first replica; its reset is far off.
    fake.set_rate_limit("core", 1, Duration::from_secs(600));
    let last = answer(post(servers[0], Some(&sessions[0]), &list_issues(1)).await).await;
    assert!(succeeded(&last), "{last}");
    let sent = fake.request_count();
    for (n, server) in servers.iter().enumerate().skip(1) {
        let refused = answer(post(server, Some(&sessions[n]), &list_issues(2)).await).await;
        assert!(!succeeded(&refused), "{refused}");
        assert!(refused.to_string().contains("rate limit"), "{refused}");
    }
    assert_eq!(
        fake.request_count(),
        sent,
        "nothing sent with the budget spent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_github_rejected_is_held_by_every_replica() {
    // The fake knows another token only: the server's is rejected (401).
    let fake = FakeGitHub::start_with_tokens(&["ghp_some_other_token"]);
    fake.add_repo("octo", "tools");
    let (fake, _redis, nodes) = around(fake, 3, &[]).await;
    let sessions = a_session_on_each(&nodes).await;
    let before = fake.request_count();
    for (n, node) in nodes.iter().enumerate() {
        let refused = answer(post(&node.server, Some(&sessions[n]), &list_issues(1)).await).await;
        assert!(!succeeded(&refused), "{refused}");
    }
    assert_eq!(
        fake.request_count() - before,
        1,
        "one 401, then no more requests with the token from any replica"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_through_one_replica_is_read_through_another() {
    let (_fake, _redis, nodes) = cluster(2).await;
    let [a, b] = [&nodes[0].server, &nodes[1].server];
    let (on_a, on_b) = (open(a).await, open(b).await);
    // b has the list cached before the write.
    let before = answer(post(b, Some(&on_b), &list_issues(1)).await).await;
    assert!(!before.to_string().contains("Written through a"));
    let created = answer(post(a, Some(&on_a), &create_issue(2, "Written through a")).await).await;
    assert!(succeeded(&created), "{created}");
    let after = answer(post(b, Some(&on_b), &list_issues(3)).await).await;
    assert!(after.to_string().contains("Written through a"), "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stateless_round_trip_finishes_on_another_replica() {
    use common::stateless::{post as post_stateless, request};
    let fixtures = [("MCP_CONFORMANCE_FIXTURES", "1")];
    let (_fake, _redis, nodes) = around(FakeGitHub::start(), 2, &fixtures).await;
    let tool = "test_input_required_result_request_state";
    // No mcp.request_state_key: the replicas derive one from the cluster's secret.
    let first = request(1, "tools/call", json!({"name": tool}));
    let asked = post_stateless(&nodes[0].server.url("/mcp"), &first, &[]).await;
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let state = asked["result"]["requestState"].as_str().unwrap();
    let retry = request(
        2,
        "tools/call",
        json!({"name": tool, "requestState": state,
               "inputResponses": {"confirm": {"action": "accept", "content": {"ok": true}}}}),
    );
    let done = post_stateless(&nodes[1].server.url("/mcp"), &retry, &[]).await;
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_owner_costs_its_clients_a_bounded_wait_and_nobody_else_anything() {
    // The owner must start answering within this plus 5 s.
    let quick = [("GITHUB_ISSUE_MCP__LIMITS__TOOL_TIMEOUT_SECS", "1")];
    let (_fake, _redis, nodes) = around(FakeGitHub::start(), 2, &quick).await;
    let [a, b] = [&nodes[0].server, &nodes[1].server];
    let (hung, fine) = (open(a).await, open(b).await);
    signal(nodes[0].process.pid(), "STOP");
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        post(b, Some(&hung), &tools_list(1)),
    )
    .await
    .expect("a hung owner's session is answered within the bound");
    signal(nodes[0].process.pid(), "CONT");
    assert_eq!(waited.status(), 503);
    assert_eq!(waited.headers()["retry-after"], "1");
    answer(post(b, Some(&fine), &tools_list(2)).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_that_hangs_slows_no_request_for_long() {
    let (_fake, redis, nodes) = cluster(2).await;
    let server = &nodes[0].server;
    let session = open(server).await;
    signal(redis.process.pid(), "STOP");
    wait_for_metric(server, "cluster_redis_up", 0, Duration::from_secs(5)).await;
    // Six calls on one token: each waited a second for Redis before this was fixed.
    let bodies: Vec<Value> = (0..6).map(list_issues).collect();
    let calls = bodies.iter().map(|body| post(server, Some(&session), body));
    let answered = tokio::time::timeout(AT_ONCE, futures_util::future::join_all(calls))
        .await
        .expect("no call waits for a Redis that hangs");
    signal(redis.process.pid(), "CONT");
    for response in answered {
        assert!(succeeded(&answer(response).await));
    }
    assert_eq!(post(server, None, &json!({})).await.status(), 400);
    open(server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_entry_the_cluster_did_not_sign_is_ignored() {
    let (_fake, redis, nodes) = cluster(2).await;
    // Someone who can write to Redis lists a replica of their own.
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sink.set_nonblocking(true).unwrap();
    let url = format!("http://{}", sink.local_addr().unwrap());
    for command in [
        vec!["HSET", "github-issue-mcp:replicas", "deadbeef", &url],
        vec![
            "ZADD",
            "github-issue-mcp:leases",
            "99999999999999",
            "deadbeef",
        ],
    ] {
        let done = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port.to_string()])
            .args(&command)
            .output()
            .unwrap();
        assert!(done.status.success(), "{done:?}");
    }
    let response = post(&nodes[1].server, Some(NOBODYS_SESSION), &tools_list(1)).await;
    assert_eq!(response.status(), 404);
    assert!(
        sink.accept().is_err(),
        "nothing was sent to the forged address"
    );
}

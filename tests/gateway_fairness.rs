//! One token shared by many principals (issue 15, finding 7): in `api-keys` mode every key's
//! calls go out on the server's token, one at a time. The gateway takes turns between the
//! principals, bounds the calls one principal may have waiting, and a GET that is tried again
//! gives its turn back first, so that neither a flooding key nor a slow GitHub answer holds
//! everyone else up.

mod common;
#[path = "common/scripted_github.rs"]
mod scripted_github;

use std::time::{Duration, Instant};

use common::{
    SseClient, TestServer, WAIT,
    fake_github::{FakeGitHub, IssueSeed},
    raw_github, session, settings, text_of,
};
use futures_util::future::join_all;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use scripted_github::{Reply, ScriptedGitHub};
use serde_json::{Value, json};

fn repo_with_issues(count: usize) -> FakeGitHub {
    let fake = FakeGitHub::start();
    fake.set_rate_limit_size("core", 100_000);
    fake.add_repo("octo", "hello");
    for i in 0..count {
        let seed = IssueSeed {
            title: format!("Issue {i}"),
            ..IssueSeed::default()
        };
        fake.add_issue("octo", "hello", seed);
    }
    fake
}

fn api_key_server(fake: &FakeGitHub, overrides: &[(&str, &str)]) -> TestServer {
    let mut all = vec![
        ("GITHUB_API_URL", fake.base_url.as_str()),
        ("GITHUB_ISSUE_MCP__AUTH__MODE", "api-keys"),
        ("GITHUB_ISSUE_MCP__AUTH__API_KEYS", "key-a,key-b"),
    ];
    all.extend_from_slice(overrides);
    TestServer::start_github(settings(&all))
}

/// A legacy SSE session sending `key` as the bearer on every request.
async fn session_as(server: &TestServer, key: &str) -> SseClient {
    let mut headers = HeaderMap::new();
    let bearer = HeaderValue::from_str(&format!("Bearer {key}")).unwrap();
    headers.insert(AUTHORIZATION, bearer);
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let mut client = SseClient::connect_with(server, http).await;
    client.initialize("2025-06-18").await;
    client
}

fn get_issue(id: u64, number: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "get_issue",
        "arguments": {"owner": "octo", "repo": "hello", "issue_number": number}}})
}

/// Polls until `done` holds, failing after [`WAIT`].
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Key A's flood: 20 sessions × 16 calls for distinct issues (numbers 1 to 320), waiting for
/// the token (16 s of GitHub time at 50 ms a call).
const SESSIONS: u64 = 20;
const CALLS: u64 = 16;
const FLOOD: u64 = SESSIONS * CALLS;

/// Starts a server on a fake GitHub (50 ms a call) with key A's flood queued and on its way,
/// and key B's session; returns A's sessions and B's.
async fn flooded(fake: &FakeGitHub) -> (TestServer, Vec<SseClient>, SseClient) {
    fake.set_latency(Duration::from_millis(50));
    // Above A's load: the turns, not the bound, are what this measures.
    let server = api_key_server(
        fake,
        &[("GITHUB_ISSUE_MCP__GITHUB__MAX_QUEUED_PER_PRINCIPAL", "1000")],
    );
    let mut flooders = Vec::new();
    for _ in 0..SESSIONS {
        flooders.push(session_as(&server, "key-a").await);
    }
    let victim = session_as(&server, "key-b").await;
    // Distinct issues, so that no two of A's calls share an answer.
    let posts = flooders.iter().enumerate().flat_map(|(s, client)| {
        (0..CALLS).map(move |c| {
            let number = s as u64 * CALLS + c + 1;
            client.post(get_issue(number, number))
        })
    });
    join_all(posts).await;
    wait_until("A's calls reach GitHub", || fake.request_count() >= 3).await;
    (server, flooders, victim)
}

/// With key A's flood queued for the shared token, key B's reads still take about two GitHub
/// round trips, not A's whole queue.
#[tokio::test(flavor = "multi_thread")]
async fn another_key_is_served_while_one_key_floods_the_shared_token() {
    let flood = FLOOD;
    let fake = repo_with_issues(flood as usize + 3);
    let (_server, _flooders, mut victim) = flooded(&fake).await;

    let mut latencies = Vec::new();
    for (id, number) in (flood + 1..=flood + 3).enumerate() {
        let started = Instant::now();
        victim.post(get_issue(id as u64 + 10, number)).await;
        let answer = victim.next_message().await;
        latencies.push(started.elapsed());
        assert_ne!(answer["result"]["isError"], true, "{answer}");
        assert_eq!(
            answer["result"]["structuredContent"]["issue"]["number"], number,
            "{answer}"
        );
    }
    let sent = fake.request_count() as u64;
    eprintln!("key B's get_issue with key A's {flood} calls queued: {latencies:?}; {sent} sent");
    assert!(
        sent < flood,
        "A's flood was still queued while B was measured ({sent} sent)"
    );
    for latency in &latencies {
        assert!(
            *latency < Duration::from_millis(1000),
            "B waited {latency:?} behind A"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_keys_waiting_calls_are_bounded_and_others_still_served() {
    let fake = repo_with_issues(11);
    fake.set_latency(Duration::from_millis(400));
    let server = api_key_server(
        &fake,
        &[("GITHUB_ISSUE_MCP__GITHUB__MAX_QUEUED_PER_PRINCIPAL", "4")],
    );
    let mut flooder = session_as(&server, "key-a").await;
    let mut other = session_as(&server, "key-b").await;
    join_all((1..=10).map(|n| flooder.post(get_issue(n, n)))).await;
    let mut busy = 0;
    for _ in 0..10 {
        let answer = flooder.next_message().await;
        let result = &answer["result"];
        if result["isError"] == true {
            assert!(
                text_of(result).contains("already wait for their turn"),
                "{answer}"
            );
            busy += 1;
        }
    }
    // One on the wire, four waiting: the other five were answered at once, unsent.
    assert_eq!(busy, 5);
    assert_eq!(fake.request_count(), 5, "{:?}", fake.requests());
    other.post(get_issue(1, 11)).await;
    let answer = other.next_message().await;
    assert_ne!(answer["result"]["isError"], true, "{answer}");
}

/// A GitHub that drips its answer a byte at a time times out after `request_timeout`, and is
/// tried again (a GET); between the tries, the token serves the call that waited.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_answer_holds_the_token_for_one_timeout_not_one_per_try() {
    let fake = repo_with_issues(1);
    let body = raw_github::Client::new(&fake)
        .get_json("/repos/octo/hello/issues/1")
        .await
        .to_string();
    let github = ScriptedGitHub::start();
    let drip = Reply::Drip {
        every: Duration::from_millis(100),
    };
    github.on(None, "/repos/octo/slow/issues/1", drip);
    github.on(
        None,
        "/repos/octo/hello/issues/1",
        Reply::Json { status: 200, body },
    );
    let timeout = Duration::from_millis(1500);
    let server = TestServer::start_github(settings(&[
        ("GITHUB_API_URL", github.base.as_str()),
        ("GITHUB_ISSUE_MCP__GITHUB__REQUEST_TIMEOUT_MS", "1500"),
        ("GITHUB_ISSUE_MCP__GITHUB__GET_RETRIES", "2"),
        ("GITHUB_ISSUE_MCP__GITHUB__RETRY_BASE_MS", "1"),
    ]));
    let mut slow = session(&server, "2025-06-18").await;
    let mut quick = session(&server, "2025-06-18").await;
    slow.post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "get_issue", "arguments": {"owner": "octo", "repo": "slow", "issue_number": 1}}}),
    )
    .await;
    wait_until("the slow call reaches GitHub", || !github.seen().is_empty()).await;

    let started = Instant::now();
    quick.post(get_issue(1, 1)).await;
    let answer = quick.next_message().await;
    let waited = started.elapsed();
    assert_ne!(answer["result"]["isError"], true, "{answer}");
    eprintln!("a read behind a dripping answer (timeout {timeout:?}) waited {waited:?}");
    assert!(
        waited < timeout + Duration::from_millis(900),
        "the token was held for {waited:?}"
    );

    let answer = slow.next_message().await;
    assert!(text_of(&answer["result"]).contains("timed out"), "{answer}");
    let paths: Vec<String> = github.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/repos/octo/slow/issues/1",
            "/repos/octo/hello/issues/1",
            "/repos/octo/slow/issues/1",
            "/repos/octo/slow/issues/1"
        ],
        "the waiting call went between the tries"
    );
}

/// Key B asks for the issue of key A's last queued call (issue 15, finding 7 follow-up).
/// Joining A's call would put B behind A's whole queue, whatever the turns (it once took more
/// than 10 s); instead B's call queues on its own, and its answer answers A's call too, which
/// then never goes out.
#[tokio::test(flavor = "multi_thread")]
async fn a_get_another_key_has_queued_is_not_joined_and_answers_both() {
    let fake = repo_with_issues(FLOOD as usize);
    let (_server, mut flooders, mut victim) = flooded(&fake).await;

    let started = Instant::now();
    victim.post(get_issue(1000, FLOOD)).await;
    let answer = tokio::time::timeout(WAIT, victim.next_message())
        .await
        .expect("B's call on the issue A has queued is answered");
    let waited = started.elapsed();
    let sent = fake.request_count() as u64;
    eprintln!("key B's get_issue on an issue key A has queued: {waited:?}; {sent} sent");
    assert_ne!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["issue"]["number"], FLOOD,
        "{answer}"
    );
    assert!(sent < FLOOD, "A's flood was still queued ({sent} sent)");
    assert!(
        waited < Duration::from_millis(1000),
        "B waited {waited:?} behind A"
    );

    // A's call for the same issue (its last session's, id = issue number) has B's answer too,
    // long before A's queue would have reached it.
    let last = flooders.last_mut().unwrap();
    let deadline = Instant::now() + Duration::from_millis(1000);
    let mine = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, last.next_message())
            .await
            .expect("A's call on the issue B asked for was answered with B's answer");
        if message["id"] == FLOOD {
            break message;
        }
    };
    assert_eq!(
        mine["result"]["structuredContent"]["issue"]["number"], FLOOD,
        "{mine}"
    );
    let path = format!("/repos/octo/hello/issues/{FLOOD}");
    let asked: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path_and_query == path)
        .collect();
    assert_eq!(asked.len(), 1, "the issue went out once: {asked:?}");
}

/// Two keys queue the same GET behind a call on the wire: neither joins the other's waiting
/// call, but whichever gets the turn answers both, and the GET goes out once.
#[tokio::test(flavor = "multi_thread")]
async fn identical_gets_queued_by_two_keys_go_out_once() {
    let fake = repo_with_issues(2);
    fake.set_latency(Duration::from_millis(300));
    let server = api_key_server(&fake, &[]);
    let mut a = session_as(&server, "key-a").await;
    let mut b = session_as(&server, "key-b").await;
    a.post(get_issue(1, 1)).await;
    wait_until("the first call reaches GitHub", || {
        fake.request_count() == 1
    })
    .await;
    a.post(get_issue(2, 2)).await;
    b.post(get_issue(2, 2)).await;
    let first = a.next_message().await;
    assert_eq!(first["id"], 1, "{first}");
    for client in [&mut a, &mut b] {
        let answer = client.next_message().await;
        assert_eq!(
            answer["result"]["structuredContent"]["issue"]["number"], 2,
            "{answer}"
        );
    }
    let paths: Vec<String> = fake
        .requests()
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(
        paths,
        ["/repos/octo/hello/issues/1", "/repos/octo/hello/issues/2"],
        "issue 2 went out once"
    );
}

//! GitHub pushing back, met through the balancer by sessions on every replica: what one
//! replica learns from GitHub holds the others back. The run's requests are checked against
//! GitHub's rules afterwards (`audit`); these check what the clients are told.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Cluster;
use crate::common::{
    TestServer,
    cluster::{answer, post},
    fake_github::TEST_TOKEN,
    github_process::NEWS_TRAVEL_MS,
};

pub fn tool_call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": name, "arguments": arguments}})
}

/// Whether a tool call's answer is a success (not a JSON-RPC error, not a tool error).
pub fn succeeded(answer: &Value) -> bool {
    answer.get("error").is_none() && answer["result"]["isError"] != json!(true)
}

/// The calls all at once through the balancer, in turn over `sessions`; their answers.
async fn burst(balancer: &TestServer, sessions: &[String], calls: Vec<Value>) -> Vec<Value> {
    let calls = calls.iter().enumerate().map(|(n, call)| {
        let session = &sessions[n % sessions.len()];
        async move { answer(post(balancer, Some(session), call).await).await }
    });
    futures_util::future::join_all(calls).await
}

/// Calls `list_issues` in each session through the balancer until every one succeeds: a
/// limit's end is not an event the test can await, only see.
async fn until_all_succeed(balancer: &TestServer, sessions: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    for session in sessions {
        loop {
            let listed = answer(post(balancer, Some(session), &list_issues(90)).await).await;
            if succeeded(&listed) {
                break;
            }
            assert!(Instant::now() < deadline, "still refused: {listed}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn list_issues(id: u64) -> Value {
    tool_call(id, "list_issues", json!({"owner": "octo", "repo": "hello"}))
}

/// GitHub pushing back mid-run: a secondary limit, and a budget that runs out before its
/// window ends. `sessions` has one on each replica and their calls go through the balancer,
/// so each replica calls GitHub for its own session while the requests arrive anywhere. Each
/// time, what one replica learnt holds the others back.
pub async fn github_pushes_back(cluster: &Cluster, sessions: &[String]) {
    let balancer = &cluster.balancer.server;
    let fake = &cluster.fake;

    // A secondary limit, met by one replica: the others refuse at once too, then all carry on.
    fake.set_secondary_limit(3, 1).await;
    let met = answer(post(balancer, Some(&sessions[0]), &list_issues(10)).await).await;
    assert!(met.to_string().contains("secondary"), "{met}");
    let held = burst(balancer, sessions, (11..17).map(list_issues).collect()).await;
    for answer in &held {
        assert!(answer.to_string().contains("secondary"), "{answer}");
    }
    until_all_succeed(balancer, sessions).await;

    // Two requests left in a window that ends within 5 s: the first two creations use them,
    // the others wait for the reset, on every replica, and then all succeed. The next read,
    // whichever replica makes it, lists every one.
    fake.set_core_budget(2, 5).await;
    let titles: Vec<String> = (0..6).map(|n| format!("Pressure {n}")).collect();
    let creations = titles
        .iter()
        .enumerate()
        .map(|(n, title)| {
            let issue = json!({"owner": "octo", "repo": "hello", "title": title});
            tool_call(20 + n as u64, "create_issue", issue)
        })
        .collect();
    for created in burst(balancer, sessions, creations).await {
        assert!(succeeded(&created), "{created}");
    }
    let listed = answer(post(balancer, Some(&sessions[1]), &list_issues(30)).await).await;
    for title in &titles {
        assert!(
            listed.to_string().contains(title),
            "{title} missing: {listed}"
        );
    }
}

/// The token revoked, last (its hold lasts a minute): whatever meets the 401 first, no replica
/// sends another request with the token. Sessions still subscribed (the clients' own, left
/// open) poll meanwhile, so a few requests may meet it at the same moment: none after.
pub async fn the_token_revoked(cluster: &Cluster, sessions: &[String]) {
    let (balancer, fake) = (&cluster.balancer.server, &cluster.fake);
    fake.revoke(TEST_TOKEN).await;
    let before = fake.requests().await.len();
    for n in 0..6 {
        let session = &sessions[n % sessions.len()];
        let refused = answer(post(balancer, Some(session), &list_issues(40)).await).await;
        assert!(!succeeded(&refused), "{refused}");
    }
    let after = &fake.requests().await[before..];
    let first = after.first().expect("the revoked token met GitHub once");
    for seen in after {
        assert_eq!(seen.status, 401, "{after:?}");
        assert!(seen.unix_ms < first.unix_ms + NEWS_TRAVEL_MS, "{after:?}");
    }
}

//! `auth.mode = github-token` under a flood of made-up bearers (issue 15, finding 8): every
//! unknown token used to cost a `GET /user`, so thousands of random tokens made thousands of
//! bad-credential calls from the server's address. Now new tokens are checked within a budget
//! per client address and in total; what is refused beyond it never reaches GitHub, while
//! remembered tokens and other addresses keep working.

mod common;

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use common::{TestServer, fake_github::FakeGitHub};
use futures_util::{StreamExt, stream};
use reqwest::{Client, Response};
use serde_json::json;

/// The attack: this many requests, each with a token never seen before, from one address.
const FLOOD: usize = 3000;
/// The defaults in config/default.toml.
const PER_ADDRESS_PER_MINUTE: f64 = 60.0;

fn initialize() -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "flood", "version": "1"}}})
    .to_string()
}

/// A client whose connections leave from `local`, a loopback address.
fn client_from(local: &str) -> Client {
    Client::builder()
        .local_address(local.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn open(client: &Client, server: &TestServer, token: &str) -> Response {
    client
        .post(server.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .bearer_auth(token)
        .body(initialize())
        .send()
        .await
        .unwrap()
}

fn user_checks(fake: &FakeGitHub) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path_and_query == "/user")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn random_bearers_cost_a_bounded_number_of_github_checks() {
    let (known, newcomer) = (
        "ghp_knownKKKKKKKKKKKKKKKK1111",
        "ghp_newcomerNNNNNNNNNNNN2222",
    );
    let revoked = "ghp_revokedRRRRRRRRRRRRRRR3333";
    let fake = FakeGitHub::start_with_tokens(&[known, newcomer]);
    let server = common::github_server(&fake, &[("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token")]);
    let attacker = client_from("127.0.0.1");
    // Checked before the flood: GitHub's verdicts on these are remembered.
    assert_eq!(open(&attacker, &server, known).await.status(), 200);
    assert_eq!(open(&attacker, &server, revoked).await.status(), 401);
    fake.reset_records();

    let started = Instant::now();
    let statuses: Vec<(u16, Option<String>, String)> = tokio::time::timeout(
        Duration::from_secs(120),
        stream::iter(0..FLOOD)
            .map(|n| {
                let (attacker, server) = (&attacker, &server);
                async move {
                    let token = format!("ghp_random{n:020}{}", uuid::Uuid::new_v4().simple());
                    let response = open(attacker, server, &token).await;
                    let retry = response
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_string());
                    let status = response.status().as_u16();
                    (status, retry, response.text().await.unwrap())
                }
            })
            .buffer_unordered(32)
            .collect(),
    )
    .await
    .expect("the flood ends within two minutes");
    let elapsed = started.elapsed().as_secs_f64();

    let checks = user_checks(&fake);
    // A minute's worth at once, then one a second while the flood lasts.
    let bound = (PER_ADDRESS_PER_MINUTE + elapsed * PER_ADDRESS_PER_MINUTE / 60.0).ceil() as usize;
    assert!(
        checks <= bound,
        "{checks} GET /user for {FLOOD} random tokens in {elapsed:.1} s (at most {bound})"
    );
    assert!(checks >= 1, "some random tokens were checked");
    let refused: Vec<_> = statuses.iter().filter(|(s, ..)| *s == 429).collect();
    assert_eq!(
        statuses.iter().filter(|(s, ..)| *s == 401).count(),
        checks,
        "every token GitHub saw was refused by it; the rest were not checked"
    );
    assert_eq!(refused.len(), FLOOD - checks, "all the others got 429");
    for (_, retry, body) in &refused {
        let secs: u64 = retry.as_deref().expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&secs), "Retry-After {secs}");
        assert!(body.contains("was not checked"), "{body}");
        assert!(
            !body.contains("rejected"),
            "a throttled token is not judged: {body}"
        );
    }

    // Remembered verdicts still answer from the flooded address, counting nothing.
    assert_eq!(open(&attacker, &server, known).await.status(), 200);
    let still_revoked = open(&attacker, &server, revoked).await;
    assert_eq!(still_revoked.status(), 401);
    assert!(
        still_revoked
            .text()
            .await
            .unwrap()
            .contains("GitHub rejected")
    );
    // Another address (127.0.0.2 is loopback too) brings a new, real token: it gets in.
    let elsewhere = client_from("127.0.0.2");
    assert_eq!(open(&elsewhere, &server, newcomer).await.status(), 200);
    assert_eq!(
        user_checks(&fake),
        checks + 1,
        "only the newcomer's token was checked after the flood"
    );
}

/// Many requests that bring the same new token at once share one check, and count once.
#[tokio::test(flavor = "multi_thread")]
async fn requests_with_the_same_new_token_share_one_check() {
    let token = "ghp_sharedSSSSSSSSSSSSSSSS4444";
    let fake = FakeGitHub::start_with_tokens(&[token]);
    fake.set_latency(Duration::from_millis(300));
    let server = common::github_server(
        &fake,
        &[
            ("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token"),
            (
                "GITHUB_ISSUE_MCP__AUTH__TOKEN_CHECKS_PER_MINUTE_PER_ADDRESS",
                "1",
            ),
        ],
    );
    let client = client_from("127.0.0.1");
    let statuses: Vec<u16> = stream::iter(0..20)
        .map(|_| async { open(&client, &server, token).await.status().as_u16() })
        .buffer_unordered(20)
        .collect()
        .await;
    assert_eq!(statuses, vec![200; 20]);
    assert_eq!(user_checks(&fake), 1);
}

/// The total budget holds across addresses: once spent, a new token from anywhere gets 503
/// with Retry-After, and GitHub is not asked.
#[tokio::test(flavor = "multi_thread")]
async fn the_total_budget_holds_across_addresses() {
    let token = "ghp_lateLLLLLLLLLLLLLLLLLL5555";
    let fake = FakeGitHub::start_with_tokens(&[token]);
    let server = common::github_server(
        &fake,
        &[
            ("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token"),
            ("GITHUB_ISSUE_MCP__AUTH__TOKEN_CHECKS_PER_MINUTE", "2"),
        ],
    );
    for (n, from) in ["127.0.0.3", "127.0.0.4"].iter().enumerate() {
        let refused = open(&client_from(from), &server, &format!("ghp_made_up_{n}")).await;
        assert_eq!(refused.status(), 401);
    }
    let busy = open(&client_from("127.0.0.5"), &server, token).await;
    assert_eq!(busy.status(), 503);
    assert!(busy.headers().contains_key("retry-after"));
    assert_eq!(user_checks(&fake), 2);
}

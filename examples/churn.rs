//! Connect/disconnect churn benchmark: memory must stay flat as sessions come and go.
//!
//! ```text
//! cargo run --release --example churn -- [--cycles 10000] [--concurrency 8]
//! ```
//!
//! Starts the real server in this process on 127.0.0.1:0 (its own actix system and threads),
//! then runs `cycles` sessions, `concurrency` at a time: `GET /sse`, read the endpoint event,
//! POST `initialize`, read its response, disconnect. At each tenth of the run it waits until the
//! server reports 0 live sessions and prints the process's resident memory (server and load
//! generator together: both must stay flat). No thresholds: it prints numbers.

use std::{collections::HashMap, net::TcpListener, thread, time::Instant};

use futures_util::{StreamExt, future::join_all};
use github_issue_mcp::{config::Settings, mcp::dispatcher::Features};
use serde_json::{Value, json};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a whole number, got {v}"))
        })
        .unwrap_or(default)
}

/// This process's resident set size in KiB, from /proc.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn one_cycle(http: &reqwest::Client, base: &str) {
    let response = http
        .get(format!("{base}/sse"))
        .send()
        .await
        .expect("GET /sse");
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let mut posted = false;
    while let Some(chunk) = body.next().await {
        buffer.push_str(std::str::from_utf8(&chunk.expect("stream")).expect("utf-8"));
        while let Some(end) = buffer.find("\n\n") {
            events.push(buffer.drain(..end + 2).collect::<String>());
        }
        if !posted
            && let Some(endpoint) = events
                .iter()
                .find_map(|e| e.strip_prefix("event: endpoint\ndata: "))
        {
            let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "churn", "version": "1"}}});
            let url = format!("{base}{}", endpoint.trim_end());
            let status = http
                .post(url)
                .json(&initialize)
                .send()
                .await
                .expect("POST")
                .status();
            assert_eq!(status, 202);
            posted = true;
        }
        if events.iter().any(|e| e.starts_with("event: message")) {
            return; // dropping the body disconnects
        }
    }
    panic!("stream ended before the initialize response");
}

async fn live_sessions(http: &reqwest::Client, base: &str) -> u64 {
    let health: Value = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    health["activeConnections"].as_u64().unwrap()
}

async fn wait_for_zero(http: &reqwest::Client, base: &str) -> u64 {
    for _ in 0..500 {
        let live = live_sessions(http, base).await;
        if live == 0 {
            return 0;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    live_sessions(http, base).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cycles = arg("--cycles", 10_000);
    let concurrency = arg("--concurrency", 8).max(1);

    let env: HashMap<String, String> = HashMap::from([
        ("GITHUB_TOKEN".into(), "ghp_benchmarktokenbenchmark".into()),
        ("GITHUB_ISSUE_MCP__SERVER__WORKERS".into(), "1".into()),
    ]);
    let settings = Settings::from_env(&env).expect("settings");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = github_issue_mcp::run_with(listener, settings, |_, _| Features::default())
                .expect("server");
            tx.send(()).unwrap();
            server.await
        })
    });
    rx.recv().unwrap();

    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("client");
    println!("churn: {cycles} cycles, {concurrency} at a time, server on {base}");
    println!(
        "{:>8} {:>10} {:>12} {:>10}",
        "cycles", "live", "rss_kib", "cycles/s"
    );
    println!(
        "{:>8} {:>10} {:>12} {:>10}",
        0,
        live_sessions(&http, &base).await,
        rss_kib(),
        "-"
    );
    let checkpoint = (cycles / 10).max(1);
    let (mut done, mut baseline) = (0, None);
    let started = Instant::now();
    while done < cycles {
        let batch_end = (done + checkpoint).min(cycles);
        let batch_started = Instant::now();
        while done < batch_end {
            let n = concurrency.min(batch_end - done);
            join_all((0..n).map(|_| one_cycle(&http, &base))).await;
            done += n;
        }
        let rate = checkpoint as f64 / batch_started.elapsed().as_secs_f64();
        let live = wait_for_zero(&http, &base).await;
        let rss = rss_kib();
        baseline.get_or_insert(rss);
        println!("{done:>8} {live:>10} {rss:>12} {rate:>10.0}");
    }
    let last = rss_kib();
    let first = baseline.unwrap_or(last);
    println!(
        "after the first tenth: {first} KiB; at the end: {last} KiB; growth {} KiB over {} cycles ({:.1} s total)",
        last as i64 - first as i64,
        cycles - checkpoint.min(cycles),
        started.elapsed().as_secs_f64()
    );
}

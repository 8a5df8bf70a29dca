//! The standard scenarios (issue 7) and the closed-loop driver they share.
//!
//! Each scenario starts its own server process (so that its CPU time and memory are its
//! own), opens its sessions, lets them call as fast as their answers come (one call in flight
//! per session, as an agent does) through a warm-up and then a measured window, and reads the
//! server's CPU time, memory and GitHub counters at both edges of the window.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, future::join_all, stream};

use crate::{
    Bench,
    client::{Session, Transport},
    report::{ClusterCost, Memory, Row, Stats},
    server::{Binary, Reading, Server, cpu_time},
};

/// What the sessions of a scenario talk to: one server, or replicas behind a load balancer
/// (`crate::cluster`).
pub trait Target {
    /// The base URL the sessions use.
    fn base(&self) -> &str;
    /// What the edges of a measured window read, summed over the target's processes.
    fn read(&self, http: &reqwest::Client) -> impl Future<Output = Reading>;
}

impl Target for Server {
    fn base(&self) -> &str {
        &self.base
    }

    fn read(&self, http: &reqwest::Client) -> impl Future<Output = Reading> {
        Server::read(self, http)
    }
}

/// What the sessions of a scenario call.
#[derive(Debug, Clone)]
pub struct Load {
    pub name: String,
    pub transport: Transport,
    pub sessions: usize,
    /// The fake GitHub's answer latency.
    pub github_latency: Duration,
    /// Every GitHub answer carries a new ETag (the data changes all the time).
    pub fresh_etags: bool,
    /// Server settings on top of the benchmark's.
    pub env: Vec<(&'static str, String)>,
    /// Per session (by index, cycling): the bearer token it sends, if any.
    pub bearers: Vec<String>,
    pub method: &'static str,
    /// Per session (by index, cycling): the params, as JSON text.
    pub params: Vec<String>,
    /// Each session starts a call this often (as an agent that thinks between calls);
    /// `None`: the next call as soon as the answer is in (the server's throughput).
    pub pace: Option<Duration>,
}

/// One reading of everything, at an edge of the measured window.
struct Edge {
    at: Instant,
    server: Reading,
    bench_cpu: Duration,
    fake_requests: u64,
}

async fn edge(bench: &Bench, server: &impl Target) -> Edge {
    Edge {
        server: server.read(&bench.http).await,
        bench_cpu: cpu_time("/proc/self/stat").total(),
        fake_requests: bench.fake.request_count() as u64,
        at: Instant::now(),
    }
}

/// Opens `count` sessions, 64 at a time; session `i` sends `bearers[i % len]`.
pub async fn open_sessions(
    bench: &Bench,
    server: &impl Target,
    transport: Transport,
    count: usize,
    bearers: &[String],
) -> Vec<Session> {
    let opened: Vec<Result<Session, String>> = stream::iter(0..count)
        .map(|i| {
            let bearer = (!bearers.is_empty()).then(|| bearers[i % bearers.len()].clone());
            Session::open(transport, &bench.http, server.base(), bearer)
        })
        .buffer_unordered(64)
        .collect()
        .await;
    opened
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|err| panic!("opening {count} {transport:?} sessions: {err}"))
}

/// Starts `binary` for `load`, with the fake set up for it.
pub async fn start_server(bench: &Bench, binary: &Binary, load: &Load) -> Server {
    bench.fake.set_latency(load.github_latency);
    bench.fake.set_fresh_etags(load.fresh_etags);
    bench.fake.reset_records();
    bench.start_server(binary, &load.name, &load.env).await
}

/// Runs `load` on its own server and measures it.
pub async fn run(bench: &Bench, binary: &Binary, load: &Load) -> Row {
    let server = start_server(bench, binary, load).await;
    let mut sessions =
        open_sessions(bench, &server, load.transport, load.sessions, &load.bearers).await;
    let row = closed_loop(bench, &server, load, &mut sessions).await;
    bench.fake.reset_records();
    Row {
        server: binary.label,
        ..row
    }
}

/// Every session calls `load.method` in a loop through the warm-up and the measured window;
/// the row counts the calls that completed inside the window.
pub async fn closed_loop(
    bench: &Bench,
    server: &impl Target,
    load: &Load,
    sessions: &mut [Session],
) -> Row {
    let start = Instant::now() + bench.warmup;
    let end = start + bench.measure;
    let workers = sessions.iter_mut().enumerate().map(|(i, session)| {
        let params = &load.params[i % load.params.len()];
        async move {
            let mut stats = Stats::default();
            // Paced sessions start at different offsets, as independent agents would.
            let mut next = Instant::now()
                + load.pace.map_or(Duration::ZERO, |p| {
                    p * i as u32 / load.sessions.max(1) as u32
                });
            while Instant::now() < end {
                if let Some(pace) = load.pace {
                    tokio::time::sleep_until(next.into()).await;
                    next += pace;
                }
                let began = Instant::now();
                let result = session.call(load.method, params).await;
                let done = Instant::now();
                if done >= start && done <= end {
                    stats.record(done - began, result);
                } else if let Err(err) = result {
                    stats.record_error(err);
                }
            }
            stats
        }
    });
    let edges = async {
        tokio::time::sleep_until(start.into()).await;
        let first = edge(bench, server).await;
        tokio::time::sleep_until(end.into()).await;
        (first, edge(bench, server).await)
    };
    let (per_session, (first, last)) = tokio::join!(join_all(workers), edges);
    let stats = Stats::merge(per_session);
    let seconds = (last.at - first.at).as_secs_f64();
    let calls = stats.calls().max(1) as f64;
    let per_call = |after: u64, before: u64| after.saturating_sub(before) as f64 / calls;
    let server_cpu = last.server.cpu.total() - first.server.cpu.total();
    Row {
        server: "this",
        name: load.name.clone(),
        transport: load.transport.name(),
        sessions: load.sessions,
        github_latency_ms: load.github_latency.as_millis() as u64,
        calls_per_second: stats.calls() as f64 / seconds,
        server_cpu_us_per_call: server_cpu.as_secs_f64() * 1e6 / calls,
        server_kernel_us_per_call: (last.server.cpu.system - first.server.cpu.system).as_secs_f64()
            * 1e6
            / calls,
        server_cpu_percent: server_cpu.as_secs_f64() * 100.0 / seconds,
        bench_cpu_percent: (last.bench_cpu - first.bench_cpu).as_secs_f64() * 100.0 / seconds,
        github_requests_per_call: per_call(last.fake_requests, first.fake_requests),
        not_modified_per_call: per_call(last.server.not_modified, first.server.not_modified),
        coalesced_per_call: per_call(last.server.coalesced, first.server.coalesced),
        budget_per_call: per_call(
            last.server.upstream - last.server.not_modified,
            first.server.upstream - first.server.not_modified,
        ),
        latency: stats.summary(),
        // In cluster mode, what the cluster's other parts cost (`crate::cluster`).
        cluster: (last.server.replicas > 0).then(|| ClusterCost {
            forwarded_per_call: per_call(last.server.forwarded_out, first.server.forwarded_out),
            proxy_cpu_us_per_call: (last.server.proxy_cpu.total() - first.server.proxy_cpu.total())
                .as_secs_f64()
                * 1e6
                / calls,
            redis_cpu_us_per_call: (last.server.redis_cpu.total() - first.server.redis_cpu.total())
                .as_secs_f64()
                * 1e6
                / calls,
        }),
        errors: stats.errors,
        first_error: stats.first_error,
    }
}

/// 10,000 idle SSE sessions beside 100 active ones: the idle ones' memory, the active ones'
/// latency, paced as agents (`active.pace`), then as fast as they can go.
pub async fn idle(bench: &Bench, binary: &Binary, active: Load, idle: usize) -> (Vec<Row>, Memory) {
    let server = start_server(bench, binary, &active).await;
    let mut sessions = open_sessions(bench, &server, active.transport, active.sessions, &[]).await;
    let before = server.read(&bench.http).await;
    let parked = open_sessions(bench, &server, Transport::Sse, idle, &[]).await;
    let after = server.read(&bench.http).await;
    // The same sessions twice: closed_loop hands them back by reference only.
    let paced = closed_loop(bench, &server, &active, &mut sessions).await;
    let flat_out = Load {
        name: format!("4 {} active flat out, {idle} idle SSE", active.sessions),
        pace: None,
        ..active.clone()
    };
    let fast = closed_loop(bench, &server, &flat_out, &mut sessions).await;
    // Let the 10,100 connections close before the next scenario starts its server: tearing
    // them down keeps both cores busy for a moment.
    drop(parked);
    drop(sessions);
    server
        .wait_for_no_sessions(&bench.http, Duration::from_secs(30))
        .await;
    bench.fake.reset_records();
    let memory = Memory {
        server: binary.label,
        name: format!("{idle} idle SSE sessions"),
        sessions: idle,
        rss_before_kib: before.rss_kib,
        rss_after_kib: after.rss_kib,
        bytes_per_session: (after.rss_kib.saturating_sub(before.rss_kib) * 1024) as f64
            / idle.max(1) as f64,
        sessions_before: before.sessions,
        sessions_after: after.sessions,
        sessions_expected_after: (idle + active.sessions) as u64,
        cycles_per_second: None,
    };
    let rows = [paced, fast].map(|row| Row {
        server: binary.label,
        ..row
    });
    (rows.into(), memory)
}

/// Connect, initialize and disconnect, `cycles` times, 8 at a time: memory and the session
/// count before and after.
pub async fn churn(bench: &Bench, binary: &Binary, transport: Transport, cycles: usize) -> Memory {
    let load = Load {
        name: format!("churn-{}", transport.name()),
        transport,
        sessions: 0,
        github_latency: Duration::ZERO,
        fresh_etags: false,
        env: Vec::new(),
        bearers: Vec::new(),
        method: "ping",
        params: vec!["{}".into()],
        pace: None,
    };
    let server = start_server(bench, binary, &load).await;
    let before = server.read(&bench.http).await;
    let began = Instant::now();
    stream::iter(0..cycles)
        .for_each_concurrent(8, |_| async {
            let session = Session::open(transport, &bench.http, &server.base, None)
                .await
                .unwrap_or_else(|err| panic!("churn: {err}"));
            session.close().await;
        })
        .await;
    let elapsed = began.elapsed();
    let after = server
        .wait_for_no_sessions(&bench.http, Duration::from_secs(10))
        .await;
    growth(
        binary,
        format!("{cycles} connect/disconnect cycles ({})", transport.name()),
        cycles,
        (before, after),
        0,
        elapsed,
    )
}

/// `count` calls of `load` shared by its sessions (each one call at a time, as fast as the
/// answers come), `who` naming the phase in a panic.
async fn calls(load: &Load, sessions: &mut [Session], count: usize, who: &str) {
    let left = std::cell::Cell::new(count);
    let workers = sessions.iter_mut().enumerate().map(|(i, session)| {
        let params = &load.params[i % load.params.len()];
        let left = &left;
        async move {
            while left.get() > 0 {
                left.set(left.get() - 1);
                if let Err(err) = session.call(load.method, params).await {
                    panic!("{who}: {err}");
                }
            }
        }
    });
    join_all(workers).await;
}

/// The server's RSS before and after `requests` calls of `load` (after `warmup` calls, so that
/// what the first calls fill once, such as the GitHub cache, is in "before"); the sessions,
/// if the transport has any, stay open throughout. Prints the RSS at each tenth to stderr.
/// `what` names the calls in the report.
pub async fn requests(
    bench: &Bench,
    binary: &Binary,
    load: &Load,
    what: &str,
    warmup: usize,
    requests: usize,
) -> Memory {
    let server = start_server(bench, binary, load).await;
    let mut sessions =
        open_sessions(bench, &server, load.transport, load.sessions, &load.bearers).await;
    let who = format!("{} requests ({})", requests, load.transport.name());
    calls(load, &mut sessions, warmup, &who).await;
    let before = server.read(&bench.http).await;
    let began = Instant::now();
    let mut trail = vec![before.rss_kib.to_string()];
    let mut done = 0;
    for tenth in 1..=10 {
        let upto = requests * tenth / 10;
        calls(load, &mut sessions, upto - done, &who).await;
        done = upto;
        trail.push(server.read(&bench.http).await.rss_kib.to_string());
    }
    let elapsed = began.elapsed();
    let after = server.read(&bench.http).await;
    eprintln!(
        "  RSS (KiB) after the warm-up and each tenth of the {requests} requests ({}, {}): {}",
        load.transport.name(),
        binary.label,
        trail.join(" ")
    );
    let expected = if load.transport == Transport::Stateless {
        0
    } else {
        sessions.len() as u64
    };
    for session in sessions {
        session.close().await;
    }
    bench.fake.reset_records();
    growth(
        binary,
        format!("{requests} requests, {what} ({})", load.transport.name()),
        requests,
        (before, after),
        expected,
        elapsed,
    )
}

/// The memory row of `count` cycles or requests that took `elapsed`, from the readings
/// before and after them; `expected` live sessions should be left.
fn growth(
    binary: &Binary,
    name: String,
    count: usize,
    (before, after): (Reading, Reading),
    expected: u64,
    elapsed: Duration,
) -> Memory {
    Memory {
        server: binary.label,
        name,
        sessions: count,
        rss_before_kib: before.rss_kib,
        rss_after_kib: after.rss_kib,
        bytes_per_session: (after.rss_kib as f64 - before.rss_kib as f64) * 1024.0
            / count.max(1) as f64,
        sessions_before: before.sessions,
        sessions_after: after.sessions,
        sessions_expected_after: expected,
        cycles_per_second: Some(count as f64 / elapsed.as_secs_f64()),
    }
}

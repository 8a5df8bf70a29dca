//! What the benchmark measured: latency statistics, one row per throughput scenario, the
//! memory scenarios, and their table (stdout) and JSON forms.

use std::{fmt::Write as _, time::Duration};

use serde::Serialize;

/// Latencies and errors of one session, or of all of them merged.
#[derive(Debug, Default)]
pub struct Stats {
    micros: Vec<u32>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Stats {
    pub fn record(&mut self, took: Duration, result: Result<(), String>) {
        match result {
            Ok(()) => self
                .micros
                .push(took.as_micros().min(u32::MAX as u128) as u32),
            Err(err) => self.record_error(err),
        }
    }

    pub fn record_error(&mut self, err: String) {
        self.errors += 1;
        self.first_error.get_or_insert(err);
    }

    pub fn calls(&self) -> u64 {
        self.micros.len() as u64
    }

    pub fn merge(all: Vec<Stats>) -> Stats {
        all.into_iter().fold(Stats::default(), |mut merged, one| {
            merged.micros.extend(one.micros);
            merged.errors += one.errors;
            merged.first_error = merged.first_error.or(one.first_error);
            merged
        })
    }

    pub fn summary(&self) -> Latency {
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        // Nearest rank: the smallest value with at least p% of the calls at or below it.
        let at = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
        };
        Latency {
            p50_ms: at(50.0),
            p90_ms: at(90.0),
            p99_ms: at(99.0),
            max_ms: at(100.0),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One throughput scenario.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Which binary: `this` build, or the `baseline` it is compared with.
    pub server: &'static str,
    pub name: String,
    pub transport: &'static str,
    pub sessions: usize,
    pub github_latency_ms: u64,
    pub calls_per_second: f64,
    pub latency: Latency,
    pub server_cpu_us_per_call: f64,
    /// Of that, the kernel's (system time; see `CpuTime::system`).
    pub server_kernel_us_per_call: f64,
    /// Of one core.
    pub server_cpu_percent: f64,
    /// The load generator and the fake GitHub, on the other core.
    pub bench_cpu_percent: f64,
    /// Requests the fake GitHub served per tool call.
    pub github_requests_per_call: f64,
    /// Rate-limit budget spent per call (GitHub requests that were not 304s).
    pub budget_per_call: f64,
    pub not_modified_per_call: f64,
    pub coalesced_per_call: f64,
    /// Replicas in cluster mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterCost>,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// What a row in cluster mode spent beside the replicas (whose CPU is the row's server CPU).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClusterCost {
    /// Requests a replica forwarded to the session's owner, per call.
    pub forwarded_per_call: f64,
    /// The load balancer's CPU (zero without one).
    pub proxy_cpu_us_per_call: f64,
    pub redis_cpu_us_per_call: f64,
}

/// Scenario 8: one load on replicas behind haproxy against one replica direct.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub server: &'static str,
    pub name: String,
    pub transport: &'static str,
    /// Added by the balancer and forwarding: two replicas behind haproxy minus one direct.
    pub added_p50_ms: f64,
    pub added_p99_ms: f64,
    /// Of that, forwarding's: two replicas behind haproxy minus one behind it.
    pub forwarding_p50_ms: f64,
    pub forwarding_p99_ms: f64,
    pub forwarded_per_call: f64,
    /// Replicas' CPU per call: a local call (one replica behind haproxy), and a forwarded
    /// one (both replicas' share), estimated as local + (two-replica − local) / forwarded share.
    pub local_cpu_us: f64,
    pub forwarded_cpu_us: Option<f64>,
    /// haproxy's CPU per call, two replicas behind it.
    pub proxy_cpu_us: f64,
    /// The target: at most 0.3 ms added at p50 and 1 ms at p99 (against direct).
    pub target_met: bool,
}

/// One memory scenario.
#[derive(Debug, Serialize)]
pub struct Memory {
    pub server: &'static str,
    pub name: String,
    pub sessions: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// RSS growth over the sessions (for churn: what each cycle left behind; over requests:
    /// what each request left behind).
    pub bytes_per_session: f64,
    pub sessions_before: u64,
    pub sessions_after: u64,
    /// Live sessions there should be afterwards (anything else is a problem).
    pub sessions_expected_after: u64,
    pub cycles_per_second: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub build: String,
    pub pinning: String,
    pub rows: Vec<Row>,
    pub memory: Vec<Memory>,
    /// From spawning the server process to its first `/health` answer, in a series of starts
    /// with nothing else running, per server binary.
    pub startup: Vec<Startup>,
    /// The same over the scenarios' own starts, each right after the scenario before it
    /// (whose server may still be going away).
    pub startup_in_run_ms: Option<Latency>,
    pub cluster: Vec<Comparison>,
}

/// A series of starts of one server binary.
#[derive(Debug, Serialize)]
pub struct Startup {
    pub server: &'static str,
    pub starts: usize,
    pub ms: Latency,
}

impl Report {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "machine: {}", self.machine);
        let _ = writeln!(out, "build:   {}", self.build);
        let _ = writeln!(out, "pinning: {}\n", self.pinning);
        let _ = writeln!(
            out,
            "{:<44} {:<8} {:<10} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>4}",
            "scenario",
            "server",
            "transport",
            "calls/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "µs/call",
            "kernel",
            "srv %",
            "gen %",
            "gh/c",
            "304/c",
            "co/c",
            "err"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<44} {:<8} {:<10} {:>9.0} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>8.1} {:>6.0} {:>6.0} {:>6.0} {:>6.3} {:>5.2} {:>5.2} {:>4}",
                r.name,
                r.server,
                r.transport,
                r.calls_per_second,
                r.latency.p50_ms,
                r.latency.p90_ms,
                r.latency.p99_ms,
                r.latency.max_ms,
                r.server_cpu_us_per_call,
                r.server_kernel_us_per_call,
                r.server_cpu_percent,
                r.bench_cpu_percent,
                r.github_requests_per_call,
                r.not_modified_per_call,
                r.coalesced_per_call,
                r.errors
            );
        }
        let _ = writeln!(
            out,
            "\nµs/call: server CPU time per call; kernel: the part of it in the kernel (on \
             loopback that includes the peers' TCP receive path and wake-ups). srv %, gen %: CPU \
             of the server's core and of the load generator's (with the fake GitHub). gh/c: \
             GitHub requests per call; 304/c: of them 304s per call; co/c: calls per call that \
             shared another's answer.\n"
        );
        self.cluster_table(&mut out);
        let _ = writeln!(
            out,
            "{:<56} {:<8} {:>12} {:>12} {:>10} {:>10} {:>10} {:>9}",
            "memory",
            "server",
            "RSS before",
            "RSS after",
            "B/session",
            "live bef.",
            "live aft.",
            "cycles/s"
        );
        for m in &self.memory {
            let _ = writeln!(
                out,
                "{:<56} {:<8} {:>9} KiB {:>9} KiB {:>10.0} {:>10} {:>10} {:>9}",
                m.name,
                m.server,
                m.rss_before_kib,
                m.rss_after_kib,
                m.bytes_per_session,
                m.sessions_before,
                m.sessions_after,
                m.cycles_per_second
                    .map_or("-".to_string(), |c| format!("{c:.0}"))
            );
        }
        let _ = writeln!(
            out,
            "\nB/session: RSS growth per session (per cycle for churn, per request for the \
             \"requests\" rows, whose RSS before is after their warm-up); cycles/s: cycles \
             (or requests) per second."
        );
        let _ = writeln!(out, "\nprocess start to first /health answer:");
        for series in &self.startup {
            let s = series.ms;
            let _ = writeln!(
                out,
                "  {:8} {} starts, nothing else running: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
                series.server, series.starts, s.p50_ms, s.p90_ms, s.max_ms
            );
        }
        if let Some(s) = self.startup_in_run_ms {
            let _ = writeln!(
                out,
                "  every scenario's start, right after the one before: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
                s.p50_ms, s.p90_ms, s.max_ms
            );
        }
        out
    }
}

impl Report {
    /// Scenario 8's extra columns and its comparisons, if it ran.
    fn cluster_table(&self, out: &mut String) {
        if self.cluster.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "{:<60} {:<8} {:<10} {:>7} {:>8} {:>8}",
            "cluster rows", "server", "transport", "fwd/c", "ha µs/c", "redis µs"
        );
        for r in &self.rows {
            if let Some(c) = r.cluster {
                let _ = writeln!(
                    out,
                    "{:<60} {:<8} {:<10} {:>7.2} {:>8.1} {:>8.1}",
                    r.name,
                    r.server,
                    r.transport,
                    c.forwarded_per_call,
                    c.proxy_cpu_us_per_call,
                    c.redis_cpu_us_per_call
                );
            }
        }
        let _ = writeln!(
            out,
            "\n{:<44} {:<8} {:<10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>8} {:>7} {:>6}",
            "cluster: 2 replicas behind haproxy vs",
            "server",
            "transport",
            "+p50 ms",
            "+p99 ms",
            "fwd p50",
            "fwd p99",
            "fwd/c",
            "local µs",
            "fwd µs",
            "ha µs",
            "target"
        );
        for c in &self.cluster {
            let _ = writeln!(
                out,
                "{:<44} {:<8} {:<10} {:>+8.2} {:>+8.2} {:>+8.2} {:>+8.2} {:>6.2} {:>8.1} {:>8} {:>7.1} {:>6}",
                c.name,
                c.server,
                c.transport,
                c.added_p50_ms,
                c.added_p99_ms,
                c.forwarding_p50_ms,
                c.forwarding_p99_ms,
                c.forwarded_per_call,
                c.local_cpu_us,
                c.forwarded_cpu_us
                    .map_or("-".to_string(), |us| format!("{us:.1}")),
                c.proxy_cpu_us,
                if c.target_met { "met" } else { "missed" }
            );
        }
        let _ = writeln!(
            out,
            "\n+p50, +p99: added to one replica direct; fwd p50, fwd p99: of that, added to one \
             replica behind haproxy (forwarding's own part). fwd/c: forwarded requests per call. \
             local µs, fwd µs: replica CPU per local call and per forwarded one (estimated from \
             the forwarded share). ha µs: haproxy's CPU per call. target: at most +0.3 ms at p50 \
             and +1 ms at p99.\n"
        );
    }
}

/// The latency summary of a set of durations (for the start-up times).
pub fn summary_of(durations: &[Duration]) -> Latency {
    let mut stats = Stats::default();
    for d in durations {
        stats.record(*d, Ok(()));
    }
    stats.summary()
}

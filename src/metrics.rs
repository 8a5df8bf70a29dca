//! Counters for `GET /metrics`, in the Prometheus text format.
//!
//! Sessions record each request (method, outcome, and for `tools/call` the latency); the
//! GitHub gateway records each upstream answer's status. Labels are method names, outcomes,
//! statuses, transports and rate-limit resources: never a token, key or principal, and never a
//! name a client made up (an unknown method is `other`).

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::mcp::protocol::Method;

/// Upper bounds (seconds) of the tool-call latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    counters: Mutex<Counters>,
    /// Sessions found for a request: [by asking the registry, by the worker's memory]. Atomic
    /// rather than under the lock: counted on every POST, from every worker.
    session_lookups: [AtomicU64; 2],
}

#[derive(Debug, Default)]
struct Counters {
    /// By era (`session`, or `stateless` for the 2026-07-28 revision), method (one of the
    /// server's, or `other`) and outcome.
    requests: BTreeMap<(&'static str, &'static str, &'static str), u64>,
    tool_buckets: [u64; BUCKETS.len()],
    tool_count: u64,
    tool_seconds: f64,
    github_status: BTreeMap<u16, u64>,
    tool_results_reused: u64,
}

/// What the gateway and registry know, gathered when `/metrics` is read.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub sessions_by_transport: BTreeMap<&'static str, usize>,
    pub not_modified: u64,
    pub coalesced: u64,
    pub refused: u64,
    /// The lowest remaining budget of any credential, per resource.
    pub rate_limit_remaining: BTreeMap<&'static str, u64>,
    /// Credentials whose permits and budgets the gateway keeps now.
    pub credentials: usize,
    /// GitHub calls waiting for their token's turn now.
    pub github_waiting: usize,
    /// Requests without a session (revision 2026-07-28) being served now, listen streams
    /// included.
    pub stateless_in_flight: usize,
    /// Request bodies being read now, and open connections (`http::intake`).
    pub bodies_reading: usize,
    pub connections: usize,
    /// With replicas (`cluster.redis_url`): Redis and forwarding.
    pub cluster: Option<ClusterSnapshot>,
}

/// What a replica reports of its cluster (`crate::cluster` fills it in).
#[derive(Debug, Default)]
pub struct ClusterSnapshot {
    pub redis_up: bool,
    /// Of the last directory refresh that Redis answered.
    pub redis_rtt: Duration,
    /// Live replicas in the directory, this one included.
    pub replicas: usize,
    pub forwarded_out: u64,
    pub forwarded_in: u64,
    pub owner_gone: u64,
    pub owner_unreachable: u64,
}

impl Metrics {
    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.0
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One answered request. `outcome` is `ok`, `error` (JSON-RPC error) or `tool_error`;
    /// `method` is `None` for a name this server does not have.
    pub fn request(&self, method: Option<Method>, outcome: &'static str, took: Duration) {
        self.count("session", method, outcome, took);
    }

    /// [`Metrics::request`] for a request served without a session (revision 2026-07-28).
    pub fn stateless_request(&self, method: Option<Method>, outcome: &'static str, took: Duration) {
        self.count("stateless", method, outcome, took);
    }

    fn count(
        &self,
        era: &'static str,
        method: Option<Method>,
        outcome: &'static str,
        took: Duration,
    ) {
        // A client names the method: only the server's own become labels.
        let label = method.map_or("other", Method::as_str);
        let mut counters = self.lock();
        *counters.requests.entry((era, label, outcome)).or_default() += 1;
        if method == Some(Method::ToolsCall) {
            let seconds = took.as_secs_f64();
            counters.tool_count += 1;
            counters.tool_seconds += seconds;
            for (bucket, bound) in counters.tool_buckets.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
        }
    }

    /// A tool call answered with a result rendered before (see `tools::renderings`).
    pub fn tool_result_reused(&self) {
        self.lock().tool_results_reused += 1;
    }

    /// A POST's session found: from the worker's memory of routes (`by_worker`), or by asking
    /// the registry.
    pub fn session_lookup(&self, by_worker: bool) {
        self.0.session_lookups[usize::from(by_worker)].fetch_add(1, Ordering::Relaxed);
    }

    /// One answer from GitHub.
    pub fn github_status(&self, status: u16) {
        *self.lock().github_status.entry(status).or_default() += 1;
    }

    pub fn render(&self, snapshot: &Snapshot) -> String {
        let counters = self.lock();
        let mut out = String::new();
        header(
            &mut out,
            "mcp_sessions",
            "gauge",
            "Live MCP sessions by transport.",
        );
        for (transport, count) in &snapshot.sessions_by_transport {
            let _ = writeln!(out, "mcp_sessions{{transport=\"{transport}\"}} {count}");
        }
        header(
            &mut out,
            "mcp_requests_total",
            "counter",
            "Answered MCP requests by era (session or stateless), method and outcome.",
        );
        for ((era, method, outcome), count) in &counters.requests {
            let method = escape(method);
            let _ = writeln!(
                out,
                "mcp_requests_total{{era=\"{era}\",method=\"{method}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        header(
            &mut out,
            "mcp_tool_call_seconds",
            "histogram",
            "Tool call latency.",
        );
        for (bound, count) in BUCKETS.iter().zip(counters.tool_buckets) {
            let _ = writeln!(
                out,
                "mcp_tool_call_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "mcp_tool_call_seconds_bucket{{le=\"+Inf\"}} {}",
            counters.tool_count
        );
        let _ = writeln!(out, "mcp_tool_call_seconds_sum {}", counters.tool_seconds);
        let _ = writeln!(out, "mcp_tool_call_seconds_count {}", counters.tool_count);
        header(
            &mut out,
            "mcp_tool_results_reused_total",
            "counter",
            "Tool calls answered with a result rendered for an earlier identical call.",
        );
        let _ = writeln!(
            out,
            "mcp_tool_results_reused_total {}",
            counters.tool_results_reused
        );
        header(
            &mut out,
            "mcp_session_lookups_total",
            "counter",
            "Sessions looked up for a request, by who answered: the worker's memory or the registry.",
        );
        for (by, count) in ["registry", "worker"].iter().zip(&self.0.session_lookups) {
            let count = count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "mcp_session_lookups_total{{answered_by=\"{by}\"}} {count}"
            );
        }
        header(
            &mut out,
            "github_requests_total",
            "counter",
            "Requests sent to GitHub by answer status.",
        );
        for (status, count) in &counters.github_status {
            let _ = writeln!(out, "github_requests_total{{status=\"{status}\"}} {count}");
        }
        for (name, help, value) in [
            (
                "github_not_modified_total",
                "GitHub answers that were 304 Not Modified (no budget spent).",
                snapshot.not_modified,
            ),
            (
                "github_coalesced_total",
                "Calls that shared an identical call's answer.",
                snapshot.coalesced,
            ),
            (
                "github_refused_total",
                "Calls answered without sending (budget spent, back-off).",
                snapshot.refused,
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        header(
            &mut out,
            "github_rate_limit_remaining",
            "gauge",
            "Lowest remaining rate-limit budget of any token, per resource.",
        );
        for (resource, remaining) in &snapshot.rate_limit_remaining {
            let _ = writeln!(
                out,
                "github_rate_limit_remaining{{resource=\"{resource}\"}} {remaining}"
            );
        }
        header(
            &mut out,
            "github_tokens_tracked",
            "gauge",
            "GitHub tokens whose permits and budgets are kept (forgotten after 15 idle minutes).",
        );
        let _ = writeln!(out, "github_tokens_tracked {}", snapshot.credentials);
        header(
            &mut out,
            "github_calls_waiting",
            "gauge",
            "GitHub calls waiting for their token's turn (one call at a time per token).",
        );
        let _ = writeln!(out, "github_calls_waiting {}", snapshot.github_waiting);
        header(
            &mut out,
            "mcp_stateless_in_flight",
            "gauge",
            "Requests without a session (revision 2026-07-28) being served, listen streams included.",
        );
        let _ = writeln!(
            out,
            "mcp_stateless_in_flight {}",
            snapshot.stateless_in_flight
        );
        header(
            &mut out,
            "http_connections_open",
            "gauge",
            "Open client connections.",
        );
        let _ = writeln!(out, "http_connections_open {}", snapshot.connections);
        header(
            &mut out,
            "http_bodies_reading",
            "gauge",
            "Request bodies being read now (at most http.max_body_reads).",
        );
        let _ = writeln!(out, "http_bodies_reading {}", snapshot.bodies_reading);
        if let Some(cluster) = &snapshot.cluster {
            render_cluster(&mut out, cluster);
        }
        out
    }
}

fn render_cluster(out: &mut String, cluster: &ClusterSnapshot) {
    let gauges = [
        (
            "cluster_redis_up",
            "1 while Redis answers.",
            u64::from(cluster.redis_up),
        ),
        (
            "cluster_replicas",
            "Live replicas in the directory, this one included.",
            cluster.replicas as u64,
        ),
    ];
    for (name, help, value) in gauges {
        header(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    header(
        out,
        "cluster_redis_rtt_seconds",
        "gauge",
        "Round-trip time of the last directory refresh Redis answered.",
    );
    let _ = writeln!(
        out,
        "cluster_redis_rtt_seconds {}",
        cluster.redis_rtt.as_secs_f64()
    );
    header(
        out,
        "cluster_forwarded_requests_total",
        "counter",
        "Requests for sessions of another replica forwarded there (out), and forwarded here (in).",
    );
    let _ = writeln!(
        out,
        "cluster_forwarded_requests_total{{direction=\"out\"}} {}",
        cluster.forwarded_out
    );
    let _ = writeln!(
        out,
        "cluster_forwarded_requests_total{{direction=\"in\"}} {}",
        cluster.forwarded_in
    );
    header(
        out,
        "cluster_forward_failures_total",
        "counter",
        "Forwarded requests the owner did not answer: gone (404) or unreachable (503).",
    );
    let _ = writeln!(
        out,
        "cluster_forward_failures_total{{reason=\"gone\"}} {}",
        cluster.owner_gone
    );
    let _ = writeln!(
        out,
        "cluster_forward_failures_total{{reason=\"unreachable\"}} {}",
        cluster.owner_unreachable
    );
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped, as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.request(Some(Method::ToolsCall), "ok", Duration::from_millis(30));
        metrics.request(
            Some(Method::ToolsCall),
            "tool_error",
            Duration::from_secs(2),
        );
        metrics.request(Some(Method::Ping), "ok", Duration::ZERO);
        metrics.github_status(200);
        metrics.github_status(304);
        metrics.tool_result_reused();
        let text = metrics.render(&Snapshot::default());
        assert!(text.contains(
            "mcp_requests_total{era=\"session\",method=\"tools/call\",outcome=\"ok\"} 1"
        ));
        assert!(text.contains("mcp_tool_call_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("mcp_tool_call_seconds_bucket{le=\"2.5\"} 2"));
        assert!(text.contains("mcp_tool_call_seconds_count 2"));
        assert!(text.contains("github_requests_total{status=\"304\"} 1"));
        assert!(text.contains("mcp_tool_results_reused_total 1"));
        assert_eq!(escape("a\"b"), "a\\\"b");
    }

    #[test]
    fn unknown_methods_are_counted_as_other() {
        let metrics = Metrics::default();
        for n in 0..100 {
            metrics.request(Method::parse(&format!("x/{n}")), "error", Duration::ZERO);
        }
        let text = metrics.render(&Snapshot::default());
        assert!(text.contains(
            "mcp_requests_total{era=\"session\",method=\"other\",outcome=\"error\"} 100"
        ));
        assert!(!text.contains("x/1"), "{text}");
    }
}

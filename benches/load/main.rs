//! The load benchmark (issue 7): the real server binary under MCP load from each transport
//! (legacy SSE, Streamable HTTP sessions, and the stateless revision 2026-07-28 on the same
//! `/mcp`), against the test suite's fake GitHub with a settable latency.
//!
//! ```text
//! cargo bench --bench load                      # the standard scenarios: table + JSON
//! cargo bench --bench load -- --only uncached   # the scenarios whose name contains this
//! cargo bench --bench load -- --json out.json   # JSON elsewhere (default target/bench/load.json)
//! cargo bench --bench load -- --baseline PATH   # each scenario also on another server binary
//! ```
//!
//! The server runs in its own process pinned to core 0 (`taskset`); this program (the load
//! generator, and the fake GitHub in its threads) pins itself to core 1. Each scenario gets a
//! fresh server process, so that the CPU time and memory read from /proc are that scenario's.
//! It prints numbers and checks no timing: the targets are in the README's Performance
//! section. It fails only if something did not work (an error answer, a session that did not
//! open or did not go away).
//!
//! Without `--bench` (that is, under `cargo test --all-targets`, which runs it in CI) it runs a
//! smoke version of every scenario, a few sessions for a fraction of a second each, to check
//! that the benchmark still works.
//!
//! The stateless rows have no session: each "session" is a simulated client POSTing one
//! request after another (keep-alive connections from the shared pool, as the Streamable
//! client's POSTs), with its own bearer where the scenario has one. The revision has no
//! `ping`: its `1 ping` row sends `server/discover`, the nearest thing. Scenario 7 reads the
//! server's RSS before and after 100,000 requests of one scenario (after a warm-up), on the
//! stateless path and, for comparison, over Streamable HTTP sessions. Scenario 8 (`cluster`,
//! issue 18) runs the `tools/list` and own-token `list_issues` loads on two replicas behind
//! haproxy, which forward calls for each other's sessions, beside one replica direct and one
//! behind haproxy alone; it is skipped, with a note, where redis-server or haproxy is missing.

mod client;
mod cluster;
mod report;
mod scenarios;
mod server;

#[allow(dead_code)] // the benchmark uses the fake's seeding and knobs, not its inspection API
#[path = "../../tests/common/fake_github.rs"]
mod fake_github;

use std::{
    cell::RefCell,
    fs::{self, File},
    path::PathBuf,
    process::Command,
    time::Duration,
};

use client::Transport;
use fake_github::{FakeGitHub, IssueSeed, TEST_TOKEN};
use report::{Report, Startup};
use scenarios::Load;
use server::{Binary, Server};

/// Repositories with their own copy of the seeded issues, one per session.
const OWN_REPOS: usize = 50;
const OUT_DIR: &str = "target/bench";
/// The start-up series' name, for `--only`.
const STARTUP: &str = "0 start-up";
/// The memory-over-requests scenario's name, for `--only`.
const REQUESTS: &str = "7 memory over requests";
/// The scenario of [`standard_loads`] whose calls it repeats.
const REQUESTS_LOAD: &str = "2 list_issues revalidated, own token each";

/// What every scenario needs: the HTTP client, the fake GitHub, the run's sizes.
#[derive(Debug)]
pub struct Bench {
    pub http: reqwest::Client,
    pub fake: FakeGitHub,
    pub warmup: Duration,
    pub measure: Duration,
    server_core: Option<usize>,
    startups: RefCell<Vec<Duration>>,
}

impl Bench {
    /// `binary` for the scenario `name`, pointed at the fake, its log in target/bench.
    pub async fn start_server(
        &self,
        binary: &Binary,
        name: &str,
        env: &[(&'static str, String)],
    ) -> Server {
        self.start_server_on(binary, name, env, server::free_port())
            .await
    }

    /// [`Bench::start_server`] on `port`.
    pub async fn start_server_on(
        &self,
        binary: &Binary,
        name: &str,
        env: &[(&'static str, String)],
        port: u16,
    ) -> Server {
        let file_name: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let log = File::create(format!("{OUT_DIR}/server-{}-{file_name}.log", binary.label))
            .expect("a log file");
        let mut all = vec![
            ("GITHUB_TOKEN", TEST_TOKEN.to_string()),
            ("GITHUB_API_URL", self.fake.base_url.clone()),
        ];
        all.extend(env.iter().cloned());
        let server = Server::start(&self.http, binary, (&all, port), self.server_core, log).await;
        if server.started_in > Duration::from_millis(50) {
            eprintln!(
                "note: the server ({}) for {name} took {:.1} ms to answer /health",
                binary.label,
                server.started_in.as_secs_f64() * 1000.0
            );
        }
        self.startups.borrow_mut().push(server.started_in);
        server
    }
}

struct Plan {
    smoke: bool,
    sessions: usize,
    idle: usize,
    active: usize,
    churn: usize,
    /// Requests of scenario 7, after `requests_warmup` more: in release runs the RSS still
    /// rises about 1.5 MB over the first few thousand calls (either transport), then stays flat.
    requests: usize,
    requests_warmup: usize,
    /// Starts of each binary in the start-up series.
    starts: usize,
    only: Option<String>,
    json: PathBuf,
    /// This build, and the baseline it is compared with (`--baseline PATH`), if any: every
    /// scenario runs on each in turn, so that both are measured side by side.
    binaries: Vec<Binary>,
}

impl Plan {
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().collect();
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let smoke = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--smoke");
        let (sessions, idle, active, churn) = if smoke {
            (4, 50, 4, 50)
        } else {
            (50, 10_000, 100, 10_000)
        };
        let (requests, requests_warmup) = if smoke { (200, 20) } else { (100_000, 10_000) };
        Plan {
            smoke,
            sessions,
            idle,
            active,
            churn,
            requests,
            requests_warmup,
            starts: if smoke { 2 } else { 20 },
            only: value("--only"),
            binaries: value("--baseline")
                .map(|path| Binary {
                    label: "baseline",
                    path,
                })
                .into_iter()
                .chain([Binary::this_build()])
                .collect(),
            json: value("--json")
                .map_or_else(|| PathBuf::from(OUT_DIR).join("load.json"), PathBuf::from),
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| name.contains(only.as_str()))
    }
}

/// A bearer token for user `i` of the multi-user scenario (the fake's login: `user-<last 4>`).
fn user_token(i: usize) -> String {
    format!("ghp_benchuser{i:027}")
}

/// Seeds `bench/issues` and `bench/repo-0..` alike: 40 issues, every fifth a pull request (as
/// GitHub mixes them into issue lists), with labels, assignees and a paragraph of body.
fn seed(fake: &FakeGitHub) {
    let body = "Steps to reproduce: open the page, click the button, wait. ".repeat(7);
    let repos =
        std::iter::once("issues".to_string()).chain((0..OWN_REPOS).map(|i| format!("repo-{i}")));
    for repo in repos {
        fake.add_repo("bench", &repo);
        for n in 1..=40 {
            if n % 5 == 0 {
                fake.add_pull_request("bench", &repo, &format!("Pull request {n}"));
                continue;
            }
            let seed = IssueSeed {
                title: format!("Issue {n}: the button does nothing on the settings page"),
                body: Some(body.clone()),
                labels: if n % 2 == 0 {
                    vec!["bug".into()]
                } else {
                    vec!["enhancement".into(), "p2".into()]
                },
                assignees: vec!["octocat".into()],
                comments: n % 7,
                ..IssueSeed::default()
            };
            fake.add_issue("bench", &repo, seed);
        }
    }
    // A benchmark sends far more than GitHub's 5,000 an hour.
    fake.set_rate_limit_size("core", 1_000_000_000);
}

fn list_params(repo: &str) -> String {
    format!(
        r#"{{"name":"list_issues","arguments":{{"owner":"bench","repo":"{repo}","limit":20}}}}"#
    )
}

/// `load` in `auth.mode = "github-token"`, each session with its own token: GitHub calls go
/// out one at a time per token, so only then do the sessions' calls reach GitHub side by side.
fn own_token(load: Load) -> Load {
    Load {
        env: vec![("GITHUB_ISSUE_MCP__AUTH__MODE", "github-token".into())],
        bearers: (0..OWN_REPOS).map(user_token).collect(),
        ..load
    }
}

/// Scenarios 1, 2, 3, their Streamable HTTP versions (6) and their stateless ones, which
/// send `server/discover` for `ping` (the revision has none).
fn standard_loads(plan: &Plan) -> Vec<Load> {
    let own_repos: Vec<String> = (0..OWN_REPOS)
        .map(|i| list_params(&format!("repo-{i}")))
        .collect();
    let base = |name: &str, method, params: Vec<String>, latency_ms| Load {
        name: name.to_string(),
        transport: Transport::Sse,
        sessions: plan.sessions,
        github_latency: Duration::from_millis(latency_ms),
        fresh_etags: false,
        env: Vec::new(),
        bearers: Vec::new(),
        method,
        params,
        pace: None,
    };
    let one_repo = vec![list_params("issues")];
    let mut loads = vec![
        base("1 ping", "ping", vec!["{}".into()], 0),
        base("1 tools/list", "tools/list", vec!["{}".into()], 0),
        base(
            "2 list_issues one repo, 0 ms",
            "tools/call",
            one_repo.clone(),
            0,
        ),
        base("2 list_issues one repo, 50 ms", "tools/call", one_repo, 50),
        Load {
            fresh_etags: true,
            ..base(
                "2 list_issues uncached (own repo, new data)",
                "tools/call",
                own_repos.clone(),
                0,
            )
        },
        base(
            "2 list_issues revalidated (own repo, 304)",
            "tools/call",
            own_repos.clone(),
            0,
        ),
        // Above, all calls share one token, whose GitHub requests go out one at a time (as
        // GitHub asks), so one over GitHub's round trip bounds the calls per second. With a
        // token each, they go out side by side, and the server's CPU is the bound.
        own_token(base(
            "2 list_issues revalidated, own token each",
            "tools/call",
            own_repos.clone(),
            0,
        )),
        own_token(base(
            "3 multi-user (own token + repo), 50 ms",
            "tools/call",
            own_repos,
            50,
        )),
    ];
    let streamable: Vec<Load> = loads
        .iter()
        .map(|load| Load {
            transport: Transport::Streamable,
            ..load.clone()
        })
        .collect();
    let stateless: Vec<Load> = loads
        .iter()
        .map(|load| Load {
            transport: Transport::Stateless,
            method: match load.method {
                "ping" => "server/discover",
                method => method,
            },
            ..load.clone()
        })
        .collect();
    loads.extend(streamable);
    loads.extend(stateless);
    loads
}

/// Pins this process to core 1 and the servers to core 0, where there are two cores.
fn pin() -> (Option<usize>, String) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return (None, format!("none ({cores} core available)"));
    }
    let pid = std::process::id().to_string();
    let pinned = Command::new("taskset")
        .args(["-a", "-p", "-c", "1", &pid])
        .output()
        .is_ok_and(|out| out.status.success());
    if pinned {
        (
            Some(0),
            "server on core 0, load generator and fake GitHub on core 1 (taskset)".into(),
        )
    } else {
        (None, "none (taskset failed)".into())
    }
}

/// Raises this process's open-file limit to its hard limit: 10,000 idle sessions are 10,000
/// sockets here and in the server, which inherits the limit.
fn raise_file_limit() {
    let pid = std::process::id().to_string();
    let hard = Command::new("prlimit")
        .args([
            "--pid",
            &pid,
            "--nofile",
            "--raw",
            "--noheadings",
            "--output",
            "HARD",
        ])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_string());
    if let Some(hard) = hard.filter(|h| !h.is_empty()) {
        let _ = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
            .status();
    }
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// The CPU, core count (before pinning), memory and kernel.
fn machine(cores: usize) -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown CPU", |m| m.trim_start_matches([' ', '\t', ':']));
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {:.0} GiB, Linux {}",
        memory_kib as f64 / 1024.0 / 1024.0,
        kernel.trim()
    )
}

fn build() -> String {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let commit = first_line("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = !first_line("git", &["status", "--porcelain"]).eq("unknown");
    let rustc = first_line("rustc", &["-V"]);
    format!(
        "{profile}, commit {commit}{}, {rustc}",
        if dirty { " (with local changes)" } else { "" }
    )
}

fn main() {
    let plan = Plan::from_args();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Before any thread starts, so that they all inherit the core and the limit.
    let (server_core, pinning) = pin();
    raise_file_limit();
    fs::create_dir_all(OUT_DIR).expect("target/bench");
    let mut tokens: Vec<String> = (0..OWN_REPOS).map(user_token).collect();
    tokens.push(TEST_TOKEN.to_string());
    let fake =
        FakeGitHub::start_with_tokens(&tokens.iter().map(String::as_str).collect::<Vec<_>>());
    seed(&fake);
    let bench = Bench {
        http: reqwest::Client::builder()
            .tcp_nodelay(true)
            // The server closes a connection idle for 5 s (actix's keep-alive). A pooled one
            // idle about that long, such as the one the window's first /metrics read used,
            // would race that close when the last read reuses it 5 s later (the measured
            // window), and fail with `IncompleteMessage`: let the pool drop it first.
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            .expect("an HTTP client"),
        fake,
        warmup: if plan.smoke {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        },
        measure: if plan.smoke {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(5)
        },
        server_core,
        startups: RefCell::new(Vec::new()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let machine = machine(cores);
    let report = runtime.block_on(run_all(&bench, &plan, machine, pinning));
    println!("{}", report.table());
    fs::write(
        &plan.json,
        serde_json::to_string_pretty(&report).expect("JSON"),
    )
    .expect("write the JSON report");
    println!("JSON: {}", plan.json.display());
    let problems = problems(&report);
    assert!(
        problems.is_empty(),
        "the benchmark did not run cleanly:\n{}",
        problems.join("\n")
    );
}

/// Starts each binary `starts` times in a row, nothing else running, and stops it again.
async fn startups(bench: &Bench, plan: &Plan) -> Vec<Startup> {
    let mut series = Vec::new();
    for binary in &plan.binaries {
        let first = bench.startups.borrow().len();
        for _ in 0..plan.starts {
            drop(bench.start_server(binary, STARTUP, &[]).await);
        }
        let times: Vec<Duration> = bench.startups.borrow_mut().drain(first..).collect();
        series.push(Startup {
            server: binary.label,
            starts: times.len(),
            ms: report::summary_of(&times),
        });
    }
    series
}

async fn run_all(bench: &Bench, plan: &Plan, machine: String, pinning: String) -> Report {
    // First, while the machine holds nothing of ours: the scenarios' own starts come right
    // after the server before has gone, with its sockets and memory still being released.
    let startup = if plan.wants(STARTUP) {
        eprintln!("running: {STARTUP}");
        startups(bench, plan).await
    } else {
        Vec::new()
    };
    let mut rows = Vec::new();
    for load in standard_loads(plan).iter().filter(|l| plan.wants(&l.name)) {
        for binary in &plan.binaries {
            eprintln!(
                "running: {} ({}, {})",
                load.name,
                load.transport.name(),
                binary.label
            );
            rows.push(scenarios::run(bench, binary, load).await);
        }
    }
    let mut memory = Vec::new();
    let idle_name = "4 active beside idle SSE sessions";
    if plan.wants(idle_name) {
        eprintln!("running: {idle_name}");
        let active = Load {
            name: format!("4 {} active at 10/s, {} idle SSE", plan.active, plan.idle),
            sessions: plan.active,
            pace: Some(Duration::from_millis(100)),
            ..standard_loads(plan).swap_remove(2)
        };
        for binary in &plan.binaries {
            let (active_rows, idle) =
                scenarios::idle(bench, binary, active.clone(), plan.idle).await;
            rows.extend(active_rows);
            memory.push(idle);
        }
    }
    for transport in [Transport::Sse, Transport::Streamable] {
        if plan.wants("5 churn") {
            eprintln!("running: 5 churn ({})", transport.name());
            for binary in &plan.binaries {
                memory.push(scenarios::churn(bench, binary, transport, plan.churn).await);
            }
        }
    }
    if plan.wants(REQUESTS) {
        let load = standard_loads(plan)
            .into_iter()
            .find(|l| l.name == REQUESTS_LOAD)
            .expect("the scenario that scenario 7 repeats");
        for transport in [Transport::Stateless, Transport::Streamable] {
            eprintln!("running: {REQUESTS} ({})", transport.name());
            let load = Load {
                transport,
                ..load.clone()
            };
            for binary in &plan.binaries {
                memory.push(
                    scenarios::requests(
                        bench,
                        binary,
                        &load,
                        "list_issues 304, own token",
                        plan.requests_warmup,
                        plan.requests,
                    )
                    .await,
                );
            }
        }
    }
    let (cluster_rows, cluster) = if plan.wants(cluster::NAME) {
        cluster::run(bench, plan, &standard_loads(plan)).await
    } else {
        Default::default()
    };
    rows.extend(cluster_rows);
    Report {
        machine,
        build: match plan.binaries.iter().find(|b| b.label == "baseline") {
            Some(baseline) => format!("{}; baseline: {}", build(), baseline.path),
            None => build(),
        },
        pinning,
        rows,
        memory,
        startup,
        startup_in_run_ms: Some(bench.startups.borrow())
            .filter(|starts| !starts.is_empty())
            .map(|starts| report::summary_of(&starts)),
        cluster,
    }
}

/// What did not work: errors, sessions that did not open or did not go away.
fn problems(report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    for row in &report.rows {
        if row.errors > 0 || row.calls_per_second == 0.0 {
            problems.push(format!(
                "{} ({}): {} errors, {:.0} calls/s; first error: {}",
                row.name,
                row.transport,
                row.errors,
                row.calls_per_second,
                row.first_error.as_deref().unwrap_or("none")
            ));
        }
    }
    for m in &report.memory {
        let expected = m.sessions_expected_after;
        if m.sessions_after != expected {
            problems.push(format!(
                "{}: {} live sessions afterwards, expected {expected}",
                m.name, m.sessions_after
            ));
        }
    }
    problems
}

//! Scenario 8 (issue 18): replicas behind a load balancer, against one replica direct.
//!
//! Each setup gets its own `redis-server` (no persistence), its replicas of the server binary
//! in cluster mode, and for the proxied ones haproxy in front, round-robin per request with
//! no affinity, so that about half the calls of two replicas land on the replica that does
//! not own their session and are forwarded to the one that does. The setups, side by side
//! on the same loads (`tools/list`, and `list_issues` revalidated with a token each):
//!
//! - one replica direct, in cluster mode all the same: the reference;
//! - one replica behind haproxy: the balancer's own cost, nothing forwarded;
//! - two replicas behind haproxy: the balancer's and forwarding's.
//!
//! Redis, haproxy and the replicas all run on the server's core, the sessions (and the fake
//! GitHub) on the other, as in the other scenarios. The rows' server CPU is the replicas'
//! summed; haproxy's and Redis's are beside it (`ClusterCost`). Each load runs flat out (50
//! sessions, so there the latency is mostly queueing behind the core), one setup after
//! another, and paced at 10 calls a second per session, where it is the path's own: then
//! the three setups run at once, so that the machine's noise falls on all three alike; over
//! Streamable HTTP and, in the full run, legacy SSE. `--only cluster` selects the whole scenario (its rows
//! are named `8 <load>: <setup>`). Every process is killed by PID when its setup is dropped.
//! Without `redis-server` or `haproxy` on the PATH the scenario is skipped with a note.

use std::{
    fs::{self, File},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    Bench, OUT_DIR, Plan, REQUESTS_LOAD,
    client::Transport,
    report::{Comparison, Row},
    scenarios::{self, Load, Target},
    server::{Binary, Reading, Server, cpu_time, free_port, pinned},
};

/// The scenario's name, for `--only`.
pub const NAME: &str = "8 cluster";
/// The loads of `standard_loads` it runs, and what its rows call them.
const LOADS: [(&str, &str); 2] = [
    ("1 tools/list", "tools/list"),
    (REQUESTS_LOAD, "list_issues 304, own token"),
];
/// How long Redis, the replicas and haproxy may take to come up.
const START_WITHIN: Duration = Duration::from_secs(20);

/// A helper process (Redis, haproxy), killed by PID when dropped.
struct Helper(Child);

impl Helper {
    fn cpu(&self) -> crate::server::CpuTime {
        cpu_time(&format!("/proc/{}/stat", self.0.id()))
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Replicas sharing a Redis, haproxy in front of them if `proxy` is set.
struct Setup {
    replicas: Vec<Server>,
    proxy: Option<(Helper, String)>,
    redis: Helper,
}

impl Target for Setup {
    fn base(&self) -> &str {
        self.proxy
            .as_ref()
            .map_or(&self.replicas[0].base, |(_, base)| base)
    }

    async fn read(&self, http: &reqwest::Client) -> Reading {
        let mut sum = Reading {
            proxy_cpu: self
                .proxy
                .as_ref()
                .map(|(p, _)| p.cpu())
                .unwrap_or_default(),
            redis_cpu: self.redis.cpu(),
            ..Reading::default()
        };
        for replica in &self.replicas {
            sum = sum + replica.read(http).await;
        }
        sum
    }
}

/// Whether `program` runs here (`args` being a harmless call such as its version).
fn installed(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Polls `ready` until it holds, for at most [`START_WITHIN`].
async fn wait_until(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + START_WITHIN;
    while !ready().await {
        assert!(Instant::now() < deadline, "{what} did not come up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// haproxy on `port`, round-robin over `backends` per request (no affinity), for MCP:
/// `http-no-delay` so that an event on a still-open stream goes out at once, and a long
/// `timeout tunnel` for the legacy SSE streams.
fn haproxy_config(port: u16, backends: &[u16]) -> String {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, p)| format!("    server r{i} 127.0.0.1:{p}\n"))
        .collect();
    format!(
        "global\n    maxconn 4000\n    nbthread 1\n\
         defaults\n    mode http\n    option http-no-delay\n    timeout connect 2s\n\
         \x20   timeout client 60s\n    timeout server 60s\n    timeout tunnel 1h\n\
         frontend mcp\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
         backend replicas\n    balance roundrobin\n{servers}"
    )
}

/// Starts Redis, `replicas` of `binary` with `env`, and haproxy in front if `proxied`.
async fn start(
    bench: &Bench,
    binary: &Binary,
    (name, replicas, proxied): (&str, usize, bool),
    env: &[(&'static str, String)],
) -> Setup {
    let redis_port = free_port();
    let redis = Helper(
        pinned("redis-server", bench.server_core)
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts"),
    );
    wait_until("redis-server", async || {
        tokio::net::TcpStream::connect(("127.0.0.1", redis_port))
            .await
            .is_ok()
    })
    .await;
    let proxy_port = free_port();
    let ports: Vec<u16> = (0..replicas).map(|_| free_port()).collect();
    // Clients name the balancer; the benchmark reads each replica's /metrics directly.
    let hosts = std::iter::once(proxy_port)
        .chain(ports.iter().copied())
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut all = vec![
        (
            "GITHUB_ISSUE_MCP__CLUSTER__REDIS_URL",
            format!("redis://127.0.0.1:{redis_port}/0"),
        ),
        (
            "GITHUB_ISSUE_MCP__CLUSTER__SECRET",
            "the load benchmark's secret shared by the replicas".into(),
        ),
        ("GITHUB_ISSUE_MCP__SERVER__ALLOWED_HOSTS", hosts),
    ];
    all.extend(env.iter().cloned());
    let mut servers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let name = format!("{name} #{i}");
        servers.push(bench.start_server_on(binary, &name, &all, *port).await);
    }
    // The last one reads the directory once the others are in it: from then on every
    // replica can find every owner (from memory, or with one Redis round trip).
    let last = servers.last().expect("a replica");
    wait_until("the cluster directory", async || {
        last.read(&bench.http).await.replicas == replicas as u64
    })
    .await;
    let proxy = if proxied {
        let config = format!("{OUT_DIR}/haproxy-{replicas}.cfg");
        fs::write(&config, haproxy_config(proxy_port, &ports)).expect("haproxy's config");
        let log = File::create(format!("{OUT_DIR}/haproxy-{replicas}.log")).expect("a log");
        let child = pinned("haproxy", bench.server_core)
            .args(["-db", "-f", &config])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("haproxy starts");
        let base = format!("http://127.0.0.1:{proxy_port}");
        let health = format!("{base}/health");
        wait_until("haproxy", async || {
            bench
                .http
                .get(&health)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        Some((Helper(child), base))
    } else {
        None
    };
    Setup {
        replicas: servers,
        proxy,
        redis,
    }
}

/// The setups: name, replicas, behind haproxy.
const SETUPS: [(&str, usize, bool); 3] = [
    ("direct", 1, false),
    ("haproxy 1", 1, true),
    ("haproxy 2", 2, true),
];

/// Runs the loads of [`LOADS`] (of `standard`) on every setup and binary: the rows, and the
/// setups compared per load.
pub async fn run(bench: &Bench, plan: &Plan, standard: &[Load]) -> (Vec<Row>, Vec<Comparison>) {
    if !installed("redis-server", &["--version"]) || !installed("haproxy", &["-v"]) {
        eprintln!("note: {NAME} skipped: it needs redis-server and haproxy on the PATH");
        return (Vec::new(), Vec::new());
    }
    let transports: &[Transport] = if plan.smoke {
        &[Transport::Streamable]
    } else {
        &[Transport::Streamable, Transport::Sse]
    };
    let mut rows = Vec::new();
    let mut compared = Vec::new();
    for binary in &plan.binaries {
        for &transport in transports {
            for (full, short) in LOADS {
                let base = standard
                    .iter()
                    .find(|l| l.transport == transport && l.name == full)
                    .unwrap_or_else(|| panic!("the standard load {full}"));
                let (flat, paced) = variants(base, short);
                // Flat out, one setup after another: each has the server's core to itself.
                let mut setups = Vec::new();
                for setup in SETUPS {
                    let name = format!("{NAME} {short}: {}", setup.0);
                    eprintln!("running: {name} ({}, {})", transport.name(), binary.label);
                    setups.push(on_setup(bench, binary, &name, setup, &flat).await);
                }
                compared.push(compare(&flat, &setups));
                rows.extend(setups);
                let name = format!("{NAME} {short}, paced");
                eprintln!("running: {name} ({}, {})", transport.name(), binary.label);
                let setups = side_by_side(bench, binary, short, &paced).await;
                compared.push(compare(&paced, &setups));
                rows.extend(setups);
            }
        }
    }
    (rows, compared)
}

/// `base` flat out, and paced as agents that think between calls; `short` names them.
fn variants(base: &Load, short: &str) -> (Load, Load) {
    let flat = Load {
        name: format!("8 {short}"),
        ..base.clone()
    };
    let paced = Load {
        name: format!("8 {short}, 10/s"),
        pace: Some(Duration::from_millis(100)),
        ..base.clone()
    };
    (flat, paced)
}

/// `load` named for `setup`.
fn on(load: &Load, setup: &str) -> Load {
    Load {
        name: format!("{}: {setup}", load.name),
        ..load.clone()
    }
}

/// The row of `load` on one fresh setup.
async fn on_setup(
    bench: &Bench,
    binary: &Binary,
    name: &str,
    setup: (&str, usize, bool),
    load: &Load,
) -> Row {
    bench.fake.set_latency(load.github_latency);
    bench.fake.set_fresh_etags(load.fresh_etags);
    bench.fake.reset_records();
    let target = start(bench, binary, (name, setup.1, setup.2), &load.env).await;
    let transport = load.transport;
    let mut sessions =
        scenarios::open_sessions(bench, &target, transport, load.sessions, &load.bearers).await;
    let row = scenarios::closed_loop(bench, &target, &on(load, setup.0), &mut sessions).await;
    bench.fake.reset_records();
    Row {
        server: binary.label,
        ..row
    }
}

/// The rows of the paced `load` on the three [`SETUPS`] at once, each with its own sessions
/// and processes. Paced, each uses a small part of the server's core, and run together they
/// live through the same moments of a shared machine: a p99 one minute apart differs by
/// milliseconds from the minute alone, which hid the path's own cost when the setups ran
/// one after another. The fake GitHub's request count is the three setups' together.
async fn side_by_side(bench: &Bench, binary: &Binary, short: &str, load: &Load) -> Vec<Row> {
    bench.fake.set_latency(load.github_latency);
    bench.fake.set_fresh_etags(load.fresh_etags);
    bench.fake.reset_records();
    let mut targets = Vec::new();
    let mut sessions = Vec::new();
    for setup in SETUPS {
        let name = format!("{NAME} {short}, paced: {}", setup.0);
        let target = start(bench, binary, (&name, setup.1, setup.2), &load.env).await;
        let (transport, count) = (load.transport, load.sessions);
        sessions
            .push(scenarios::open_sessions(bench, &target, transport, count, &load.bearers).await);
        targets.push(target);
    }
    let loads: Vec<Load> = SETUPS.iter().map(|setup| on(load, setup.0)).collect();
    let runs = targets
        .iter()
        .zip(sessions.iter_mut())
        .zip(&loads)
        .map(|((target, sessions), load)| scenarios::closed_loop(bench, target, load, sessions));
    let rows = futures_util::future::join_all(runs).await;
    bench.fake.reset_records();
    rows.into_iter()
        .map(|row| Row {
            server: binary.label,
            ..row
        })
        .collect()
}

/// One load's rows on the three [`SETUPS`], compared.
fn compare(load: &Load, setups: &[Row]) -> Comparison {
    let [direct, one, two] = setups else {
        panic!("{}: {} setups, not 3", load.name, setups.len())
    };
    let cost = two
        .cluster
        .unwrap_or_else(|| panic!("{}: not in cluster mode", two.name));
    let local = one.server_cpu_us_per_call;
    let added_p50_ms = two.latency.p50_ms - direct.latency.p50_ms;
    let added_p99_ms = two.latency.p99_ms - direct.latency.p99_ms;
    Comparison {
        server: two.server,
        name: load.name.clone(),
        transport: two.transport,
        added_p50_ms,
        added_p99_ms,
        forwarding_p50_ms: two.latency.p50_ms - one.latency.p50_ms,
        forwarding_p99_ms: two.latency.p99_ms - one.latency.p99_ms,
        forwarded_per_call: cost.forwarded_per_call,
        local_cpu_us: local,
        // Two-replica CPU per call = local + share × (forwarded − local).
        forwarded_cpu_us: (cost.forwarded_per_call > 0.05)
            .then(|| local + (two.server_cpu_us_per_call - local) / cost.forwarded_per_call),
        proxy_cpu_us: cost.proxy_cpu_us_per_call,
        target_met: added_p50_ms <= 0.3 && added_p99_ms <= 1.0,
    }
}

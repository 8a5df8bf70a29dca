//! The server under test: the real binary in its own process, pinned to its own core, and
//! what the benchmark reads off it (CPU time and resident memory from /proc, counters from
//! `/metrics`, the time from process start to the first `/health` answer).

use std::{
    fs::File,
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A server binary under test, and what the report calls it.
#[derive(Debug, Clone)]
pub struct Binary {
    pub label: &'static str,
    pub path: String,
}

impl Binary {
    /// The server binary cargo built beside this benchmark (same profile).
    pub fn this_build() -> Binary {
        Binary {
            label: "this",
            path: env!("CARGO_BIN_EXE_github-issue-mcp").to_string(),
        }
    }
}

#[derive(Debug)]
pub struct Server {
    child: Child,
    pub base: String,
    /// From `spawn` to the first `200` from `/health`.
    pub started_in: Duration,
}

/// One reading of the server's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// CPU time of the whole process.
    pub cpu: CpuTime,
    pub rss_kib: u64,
    /// Requests the server sent to GitHub (all statuses), its 304s and coalesced calls.
    pub upstream: u64,
    pub not_modified: u64,
    pub coalesced: u64,
    /// Live MCP sessions, both transports.
    pub sessions: u64,
    /// In cluster mode: live replicas in the directory (0 outside it), and requests for
    /// sessions of another replica sent there (out) and taken from one (in).
    pub replicas: u64,
    pub forwarded_out: u64,
    pub forwarded_in: u64,
    /// The cluster scenario's load balancer and Redis (zero elsewhere).
    pub proxy_cpu: CpuTime,
    pub redis_cpu: CpuTime,
}

impl std::ops::Add for Reading {
    type Output = Reading;

    /// The readings of several replicas as one.
    fn add(self, other: Reading) -> Reading {
        Reading {
            cpu: self.cpu + other.cpu,
            rss_kib: self.rss_kib + other.rss_kib,
            upstream: self.upstream + other.upstream,
            not_modified: self.not_modified + other.not_modified,
            coalesced: self.coalesced + other.coalesced,
            sessions: self.sessions + other.sessions,
            replicas: self.replicas.max(other.replicas),
            forwarded_out: self.forwarded_out + other.forwarded_out,
            forwarded_in: self.forwarded_in + other.forwarded_in,
            proxy_cpu: self.proxy_cpu + other.proxy_cpu,
            redis_cpu: self.redis_cpu + other.redis_cpu,
        }
    }
}

/// A free loopback port (bound and released: the child process binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `program` on `core` (through `taskset`) if given, else as it is.
pub fn pinned(program: &str, core: Option<usize>) -> Command {
    match core {
        Some(core) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &core.to_string(), program]);
            c
        }
        None => Command::new(program),
    }
}

impl Server {
    /// Starts the binary on `port` with `env` (on top of the benchmark's limits), on `core` if
    /// given, its log in `log`, and waits for its first `/health` answer.
    pub async fn start(
        http: &reqwest::Client,
        binary: &Binary,
        (env, port): (&[(&str, String)], u16),
        core: Option<usize>,
        log: File,
    ) -> Server {
        let mut command = pinned(&binary.path, core);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            // The benchmark opens more sessions than the defaults allow one principal.
            .env("GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS", "30000")
            // Every client of the benchmark is on 127.0.0.1.
            .env("GITHUB_ISSUE_MCP__SERVER__MAX_CONNECTIONS_PER_PEER", "0")
            .env("GITHUB_ISSUE_MCP__SERVER__MAX_CONNECTIONS", "30000")
            .env(
                "GITHUB_ISSUE_MCP__LIMITS__MAX_SESSIONS_PER_PRINCIPAL",
                "30000",
            )
            // The benchmark reads /metrics without a bearer, also in github-token mode.
            .env("GITHUB_ISSUE_MCP__AUTH__METRICS", "public")
            .envs(env.iter().map(|(k, v)| (k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let spawned = Instant::now();
        let child = command.spawn().expect("the server binary starts");
        let base = format!("http://127.0.0.1:{port}");
        let health = format!("{base}/health");
        loop {
            if let Ok(response) = http.get(&health).send().await
                && response.status() == 200
            {
                break;
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(20),
                "the server did not answer /health within 20 s (see its log in target/bench)"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        Server {
            started_in: spawned.elapsed(),
            child,
            base,
        }
    }

    pub async fn read(&self, http: &reqwest::Client) -> Reading {
        let pid = self.child.id();
        let text = http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics text");
        let sum = |name: &str| -> u64 {
            text.lines()
                .filter(|line| {
                    line.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with([' ', '{']))
                })
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        };
        Reading {
            cpu: cpu_time(&format!("/proc/{pid}/stat")),
            rss_kib: rss_kib(&format!("/proc/{pid}/status")),
            upstream: sum("github_requests_total"),
            not_modified: sum("github_not_modified_total"),
            coalesced: sum("github_coalesced_total"),
            sessions: sum("mcp_sessions"),
            replicas: sum("cluster_replicas"),
            forwarded_out: sum(r#"cluster_forwarded_requests_total{direction="out"}"#),
            forwarded_in: sum(r#"cluster_forwarded_requests_total{direction="in"}"#),
            ..Reading::default()
        }
    }

    /// Waits (polling `/metrics`) until the server counts no live session, up to `limit`.
    pub async fn wait_for_no_sessions(&self, http: &reqwest::Client, limit: Duration) -> Reading {
        let deadline = Instant::now() + limit;
        loop {
            let reading = self.read(http).await;
            if reading.sessions == 0 || Instant::now() >= deadline {
                return reading;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second, for the CPU times in /proc/*/stat.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// CPU time of a process (all its threads, living and ended), split as the kernel counts it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub user: Duration,
    /// In the kernel on the process's behalf: its system calls and, on loopback, the peers'
    /// TCP receive path and wake-ups, which run on the sending core.
    pub system: Duration,
}

impl CpuTime {
    pub fn total(self) -> Duration {
        self.user + self.system
    }
}

impl std::ops::Add for CpuTime {
    type Output = CpuTime;

    fn add(self, other: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user + other.user,
            system: self.system + other.system,
        }
    }
}

/// utime and stime of a process from its `stat` file.
pub fn cpu_time(stat_path: &str) -> CpuTime {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the file: 12 and 13 after the name.
    let time = |index: usize| {
        let ticks = fields.get(index).copied().unwrap_or(0);
        Duration::from_nanos(ticks * 1_000_000_000 / clock_ticks())
    };
    CpuTime {
        user: time(11),
        system: time(12),
    }
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(status_path: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

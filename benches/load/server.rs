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
}

impl Server {
    /// Starts the binary with `env` (on top of the benchmark's limits), on `core` if given,
    /// its log in `log`, and waits for its first `/health` answer.
    pub async fn start(
        http: &reqwest::Client,
        binary: &Binary,
        env: &[(&str, String)],
        core: Option<usize>,
        log: File,
    ) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = match core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &core.to_string(), &binary.path]);
                c
            }
            None => Command::new(&binary.path),
        };
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

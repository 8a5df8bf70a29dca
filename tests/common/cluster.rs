//! Replicas as real processes around a real Redis, for the cluster tests.
//!
//! [`Redis`] runs `redis-server` (no persistence) on a free loopback port; [`Replicas`] runs
//! the server binary several times, each its own process on its own port, all joined through
//! that Redis and pointed at one fake GitHub; [`Haproxy`] puts a round-robin balancer with no
//! affinity in front of them. Every process is killed by PID when its owner drops.
//! `redis-server` and `haproxy` must be installed (scripts/test.sh installs them from Debian).

use std::{
    fmt::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::{Client, Response};
use serde_json::{Value, json};

use super::{TestServer, WAIT};

/// A free loopback port (bound and released: the child process binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed (SIGKILL, its exit reaped) when dropped, unless already.
#[derive(Default)]
pub struct Process(Option<Child>);

impl Process {
    pub fn new(child: Child) -> Process {
        Process(Some(child))
    }

    /// The process's id (0 once killed).
    pub fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.0.is_some()
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `redis-server` child process on a fixed port, stopped when dropped.
pub struct Redis {
    pub port: u16,
    pub process: Process,
}

impl Redis {
    pub async fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            process: Process::default(),
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it again, on the same port, empty (it never saves).
    pub async fn restart(&mut self) {
        assert!(!self.process.is_running(), "redis is running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/test.sh installs it)");
        self.process = Process(Some(child));
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis never came up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (SIGKILL): everything it held is lost.
    pub fn stop(&mut self) {
        self.process.kill();
    }
}

/// One replica: its process and how to reach it.
pub struct Replica {
    pub server: TestServer,
    pub port: u16,
    /// Killed at once by `process.kill()` (SIGKILL): no drain, no leaving the directory.
    pub process: Process,
}

/// `count` replicas of the real binary (the tests' debug build) sharing `redis`, with `env` on
/// top of the cluster's settings (Host checks let in every replica's address, as they would
/// the public name behind a load balancer). Waits until each answers `/health`.
pub async fn replicas(redis: &Redis, count: usize, env: &[(&str, &str)]) -> Vec<Replica> {
    let debug = Path::new(env!("CARGO_BIN_EXE_github-issue-mcp"));
    replicas_behind(debug, redis, count, None, env).await
}

/// [`replicas`] of `binary` whose Host checks also let in `public`, the `host:port` clients
/// reach them by (a load balancer's).
pub async fn replicas_behind(
    binary: &Path,
    redis: &Redis,
    count: usize,
    public: Option<&str>,
    env: &[(&str, &str)],
) -> Vec<Replica> {
    let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
    let hosts = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .chain(public.map(str::to_string))
        .collect::<Vec<_>>()
        .join(",");
    let mut replicas = Vec::new();
    for port in ports {
        let child = Command::new(binary)
            .env("PORT", port.to_string())
            .env("GITHUB_ISSUE_MCP__CLUSTER__REDIS_URL", redis.url())
            .env(
                "GITHUB_ISSUE_MCP__CLUSTER__SECRET",
                "a test secret shared by the replicas, 32+ bytes",
            )
            .env("GITHUB_ISSUE_MCP__SERVER__ALLOWED_HOSTS", &hosts)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let server = TestServer::external(format!("http://127.0.0.1:{port}"));
        replicas.push(Replica {
            server,
            port,
            process: Process(Some(child)),
        });
    }
    for replica in &replicas {
        replica.server.wait_until_up().await;
    }
    // Each lists the others once its directory refresh (every second) has seen them start.
    for replica in &replicas {
        wait_for_metric(&replica.server, "cluster_replicas", count as u64, WAIT).await;
    }
    replicas
}

/// `haproxy` in HTTP mode on a loopback port, balancing round-robin over backends with no
/// affinity: each request, even on a kept-alive connection, goes to the next replica, as a
/// plain cloud balancer would send it. Its config lives in a temporary folder, removed with
/// the process (killed by PID) when dropped.
pub struct Haproxy {
    pub server: TestServer,
    /// Its statistics page (CSV), on a port of its own.
    stats: String,
    process: Process,
    dir: PathBuf,
}

impl Haproxy {
    /// Starts it on `port` in front of the replicas listening on `backends`, and waits until
    /// each backend has passed a health check: `/ready` with `port`'s Host, which the replicas
    /// must allow ([`replicas_behind`]).
    pub async fn start(port: u16, backends: &[u16]) -> Haproxy {
        let host = format!("127.0.0.1:{port}");
        let stats = format!("127.0.0.1:{}", free_port());
        // maxconn well below the machine's file limit (haproxy refuses to start above it);
        // `timeout tunnel` keeps SSE streams open past `timeout server` once they flow;
        // `http-reuse` stays haproxy's default (safe), as most deployments leave it. Checks
        // and retries as in deploy/haproxy.cfg: a request a dead replica refused goes to
        // another.
        let mut config = format!(
            "global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend mcp
    bind {host}
    default_backend replicas
frontend stats
    bind {stats}
    stats enable
    stats uri /stats
backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /ready ver HTTP/1.1 hdr Host {host}
    default-server inter 1s fall 2 rise 2
    retries 2
    retry-on conn-failure
    option redispatch 1
"
        );
        for (index, backend) in backends.iter().enumerate() {
            let _ = writeln!(
                config,
                "    server replica{index} 127.0.0.1:{backend} check"
            );
        }
        let dir = std::env::temp_dir().join(format!("haproxy-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .spawn()
            .expect("haproxy runs (scripts/test.sh installs it)");
        let haproxy = Haproxy {
            server: TestServer::external(format!("http://{host}")),
            stats: format!("http://{stats}/stats;csv"),
            process: Process(Some(child)),
            dir,
        };
        // haproxy counts a server up until a check fails: waiting for a passed check on each
        // makes a check the replicas refuse fail here, not later as a 503 mid-test.
        let deadline = tokio::time::Instant::now() + WAIT;
        while haproxy.checks_passed().await != backends.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "haproxy's health checks never passed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        haproxy
    }

    /// How many backends passed their last health check (`check_status` L7OK in the CSV
    /// statistics; 0 while haproxy is not answering yet).
    async fn checks_passed(&self) -> usize {
        let Ok(answer) = reqwest::get(&self.stats).await else {
            return 0;
        };
        let csv = answer.text().await.unwrap_or_default();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let Some(column) = header.iter().position(|name| *name == "check_status") else {
            return 0;
        };
        lines
            .filter(|line| line.split(',').nth(column) == Some("L7OK"))
            .count()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        self.process.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `/metrics` of `server` until the line `name` reads `value`, for at most `within`.
pub async fn wait_for_metric(server: &TestServer, name: &str, value: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while super::metric(server, name).await != value {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never became {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `signal` (`STOP`, `CONT`, ...) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

// Speaking Streamable HTTP to a replica, or to the balancer in front of them.

const BOTH: &str = "application/json, text/event-stream";

/// An `initialize` request (2025-06-18).
pub fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "cluster-test", "version": "1"}}})
}

/// A POST to `/mcp` on `server`, in `session` if given.
pub async fn post(server: &TestServer, session: Option<&str>, body: &Value) -> Response {
    post_with(&Client::new(), server, session, body).await
}

/// [`post`] through `http` (one bound to another source address, say).
pub async fn post_with(
    http: &Client,
    server: &TestServer,
    session: Option<&str>,
    body: &Value,
) -> Response {
    let mut request = http
        .post(server.url("/mcp"))
        .header("Accept", BOTH)
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", "2025-06-18");
    if let Some(session) = session {
        request = request.header("Mcp-Session-Id", session);
    }
    request.body(body.to_string()).send().await.unwrap()
}

/// Opens a Streamable HTTP session on `server` and returns its id.
pub async fn open(server: &TestServer) -> String {
    let response = post(server, None, &initialize()).await;
    assert_eq!(response.status(), 200);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(server, Some(&id), &initialized).await.status(), 202);
    id
}

/// The JSON-RPC answer of a POST, whether it came as JSON or as an event stream.
pub async fn answer(response: Response) -> Value {
    assert_eq!(response.status(), 200);
    let streamed = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream");
    let text = response.text().await.unwrap();
    if !streamed {
        return serde_json::from_str(&text).unwrap();
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .find(|message| message.get("id").is_some())
        .unwrap_or_else(|| panic!("no answer in {text}"))
}

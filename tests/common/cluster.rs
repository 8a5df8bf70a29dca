//! Replicas as real processes around a real Redis, for the cluster tests.
//!
//! [`Redis`] runs `redis-server` (no persistence) on a free loopback port; [`Replicas`] runs
//! the server binary several times, each its own process on its own port, all joined through
//! that Redis and pointed at one fake GitHub. Every process is killed by PID when its owner
//! drops. `redis-server` must be installed (scripts/test.sh installs it from Debian).

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{TestServer, WAIT};

/// A free loopback port (bound and released: the child process binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// SIGKILL, and the exit reaped, for a child still running.
fn kill(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A `redis-server` child process on a fixed port, stopped when dropped.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub async fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            child: None,
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts it again, on the same port, empty (it never saves).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "redis is running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/test.sh installs it)");
        self.child = Some(child);
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
        kill(&mut self.child);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One replica: its process and how to reach it.
pub struct Replica {
    pub server: TestServer,
    pub port: u16,
    child: Option<Child>,
}

impl Replica {
    /// The process's id (0 once killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the process at once (SIGKILL): no drain, no leaving the directory.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `count` replicas of the real binary sharing `redis`, with `env` on top of the cluster's
/// settings (Host checks let in every replica's address, as they would the public name behind
/// a load balancer). Waits until each answers `/health`.
pub async fn replicas(redis: &Redis, count: usize, env: &[(&str, &str)]) -> Vec<Replica> {
    let ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
    let hosts = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut replicas = Vec::new();
    for port in ports {
        let child = Command::new(env!("CARGO_BIN_EXE_github-issue-mcp"))
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
            child: Some(child),
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

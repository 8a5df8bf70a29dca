//! `github-issue-mcp healthcheck`: asks the server on this machine for `GET /health` and exits 0
//! if it answers 200, 1 otherwise. For container HEALTHCHECKs: a `FROM scratch` image has no
//! curl or wget, only this binary.
//!
//! It reads only `PORT` (default 3001), so it needs none of the server's configuration, and it
//! speaks plain HTTP/1.1 over a std `TcpStream` with short timeouts: no runtime to start.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

const TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the server on 127.0.0.1:`port` is healthy; the error says why not.
pub fn check(port: u16) -> Result<(), String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).ok();
    stream.set_write_timeout(Some(TIMEOUT)).ok();
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("cannot send the request: {err}"))?;
    let mut head = [0u8; 64];
    let read = stream
        .read(&mut head)
        .map_err(|err| format!("no answer: {err}"))?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(status) => Err(format!("/health answered {status}")),
        None => Err("not an HTTP answer".to_string()),
    }
}

/// The port the server listens on: `PORT`, else the default 3001.
pub fn port_from_env() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3001)
}

//! A scripted GitHub for the gateway's attack tests (`tests/redirects.rs`,
//! `tests/gateway_fairness.rs`): raw HTTP/1.1 on 127.0.0.1, every request recorded with its
//! headers, each answered by the first rule whose method and path prefix match: a redirect, a
//! canned JSON answer, or an answer that drips one byte at a time. Where the stateful fake
//! (`fake_github.rs`) answers like GitHub, this one answers like a hostile or broken server.
//!
//! Included with `#[path]` by the test files that use it. Bounded: one thread per connection,
//! each closed after one answer, a drip stops after [`DRIP_FOR`], and the server stops
//! accepting when dropped.

#![allow(dead_code)] // each test binary uses a different part of it

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

/// The longest a dripping answer goes on.
pub const DRIP_FOR: Duration = Duration::from_secs(20);

/// How a rule answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `status` with `Location: location`.
    Redirect { status: u16, location: String },
    /// `status` with a JSON body.
    Json { status: u16, body: String },
    /// 200, a long `Content-Length`, and then one byte every `every`, until the client gives up
    /// (or [`DRIP_FOR`] has passed).
    Drip { every: Duration },
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lowercase names.
    pub headers: HashMap<String, String>,
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Script {
    rules: Vec<(Option<String>, String, Reply)>,
    seen: Vec<Seen>,
}

/// The server, stopped when dropped.
#[derive(Debug)]
pub struct ScriptedGitHub {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub port: u16,
    script: Arc<Mutex<Script>>,
    stop: Arc<AtomicBool>,
}

impl ScriptedGitHub {
    pub fn start() -> ScriptedGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Arc::new(Mutex::new(Script::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (script.clone(), stop.clone());
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let script = shared.clone();
                        thread::spawn(move || serve(stream, &script));
                    }
                    // Polled, so that a dropped server stops accepting.
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ScriptedGitHub {
            base: format!("http://127.0.0.1:{port}"),
            port,
            script,
            stop,
        }
    }

    /// Requests whose path starts with `prefix` (and whose method is `method`, if given) get
    /// `reply`. Earlier rules win; a request no rule matches gets a 404.
    pub fn on(&self, method: Option<&str>, prefix: &str, reply: Reply) {
        let rule = (method.map(str::to_string), prefix.to_string(), reply);
        self.script.lock().unwrap().rules.push(rule);
    }

    /// Every request so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }
}

impl Drop for ScriptedGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, script: &Mutex<Script>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    let _ = reader.read_exact(&mut body);
    let reply = {
        let mut script = script.lock().unwrap();
        script.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            headers,
            at: Instant::now(),
        });
        script
            .rules
            .iter()
            .find(|(m, prefix, _)| {
                m.as_deref().is_none_or(|m| m == method) && path.starts_with(prefix.as_str())
            })
            .map(|(_, _, reply)| reply.clone())
    };
    let mut stream = stream;
    let head = |status: u16, extra: &str, length: usize| {
        format!(
            "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\n\
             content-length: {length}\r\nconnection: close\r\n{extra}\r\n"
        )
    };
    match reply {
        None => {
            let body = r#"{"message":"Not Found"}"#;
            let _ = write!(stream, "{}{body}", head(404, "", body.len()));
        }
        Some(Reply::Redirect { status, location }) => {
            let body = r#"{"message":"Moved"}"#;
            let extra = format!("location: {location}\r\n");
            let _ = write!(stream, "{}{body}", head(status, &extra, body.len()));
        }
        Some(Reply::Json { status, body }) => {
            let extra = "etag: \"scripted\"\r\n";
            let _ = write!(stream, "{}{body}", head(status, extra, body.len()));
        }
        Some(Reply::Drip { every }) => {
            let _ = stream.write_all(head(200, "", 1 << 20).as_bytes());
            let until = Instant::now() + DRIP_FOR;
            while Instant::now() < until && stream.write_all(b" ").is_ok() {
                let _ = stream.flush();
                thread::sleep(every);
            }
        }
    }
}

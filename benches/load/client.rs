//! The load generator's MCP client: one session over any of the three transports, making one
//! call at a time (closed loop), as an agent does.
//!
//! Legacy HTTP+SSE: `GET /sse`, the `endpoint` event names the POST URL, each POST is
//! answered `202` and its response arrives as a `message` event on the stream. Streamable
//! HTTP: `POST /mcp`, the answer is the response body (JSON, or an SSE stream for
//! `tools/call`). Stateless (revision 2026-07-28): no session and no `initialize`; each call
//! is an independent `POST /mcp` carrying the revision's envelope in `params._meta` and
//! mirroring it in the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers, answered
//! with plain JSON; a "session" is then just a simulated client, with its bearer (if any) and
//! the shared client's pooled keep-alive connections, as the Streamable client has. Answers
//! are checked for errors (a JSON-RPC error or a tool result with `isError`; on the stateless
//! path also a `resultType` other than `complete`) without building a JSON tree: the
//! benchmark's own CPU is on the same core as the fake GitHub.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde::de::IgnoredAny;

pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// The stateless revision.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// What every stateless request carries in `params._meta`: the revision and no capabilities.
const STATELESS_META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
const ACCEPT_BOTH: &str = "application/json, text/event-stream";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Sse,
    Streamable,
    /// The stateless revision (2026-07-28): no session, every request on its own.
    Stateless,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::Streamable => "streamable",
            Transport::Stateless => "stateless",
        }
    }
}

/// The parts of a JSON-RPC message the benchmark looks at.
#[derive(Deserialize)]
struct Reply {
    id: Option<u64>,
    error: Option<IgnoredAny>,
    result: Option<ResultHead>,
}

#[derive(Deserialize)]
struct ResultHead {
    #[serde(rename = "isError", default)]
    is_error: bool,
    #[serde(rename = "resultType", default)]
    result_type: Option<ResultType>,
}

/// `resultType` of a stateless answer: `complete` is the only one the benchmark expects.
#[derive(Deserialize, PartialEq, Eq)]
enum ResultType {
    #[serde(rename = "complete")]
    Complete,
    #[serde(other)]
    Other,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// SSE events off a response body: `(event name, data)`, comments and keep-alives skipped.
pub struct Events {
    body: ByteStream,
    buffer: Vec<u8>,
}

impl Events {
    pub fn new(response: reqwest::Response) -> Events {
        Events {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        }
    }

    pub async fn next(&mut self) -> Result<(String, String), String> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8_lossy(&block);
                let (mut name, mut data) = ("message".to_string(), String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_string();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                if !data.is_empty() {
                    return Ok((name, data));
                }
                continue;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(err)) => return Err(format!("the event stream broke: {err}")),
                None => return Err("the event stream ended".into()),
            }
        }
    }
}

/// Whether `data` is the answer to request `id`: `Some(Ok)` for a success, `Some(Err)` for
/// an error, `None` for another message. `complete`: a result must say `"resultType":
/// "complete"` (the stateless revision's results do).
fn answer_to(data: &str, id: u64, complete: bool) -> Option<Result<(), String>> {
    let reply: Reply = serde_json::from_str(data).ok()?;
    if reply.id != Some(id) {
        return None;
    }
    let failed = reply.error.is_some()
        || reply.result.is_none_or(|r| {
            r.is_error || (complete && r.result_type != Some(ResultType::Complete))
        });
    Some(if failed {
        Err(data.chars().take(300).collect())
    } else {
        Ok(())
    })
}

fn request(id: u64, method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

/// A stateless request: `params` (a JSON object as text) with the revision's `_meta` added.
fn stateless_request(id: u64, method: &str, params: &str) -> String {
    let fields = params.trim().strip_suffix('}').unwrap_or("{").trim_end();
    let comma = if fields.ends_with('{') { "" } else { "," };
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{fields}{comma}{STATELESS_META}}}}}"#
    )
}

/// What a stateless request's `Mcp-Name` header repeats: `params.name` (tools/call,
/// prompts/get) or `params.uri` (resources/read).
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    name: Option<&'a str>,
    #[serde(borrow, default)]
    uri: Option<&'a str>,
}

fn mcp_name(method: &str, params: &str) -> Result<Option<String>, String> {
    if !matches!(method, "tools/call" | "prompts/get" | "resources/read") {
        return Ok(None);
    }
    let named: Named<'_> = serde_json::from_str(params).map_err(|e| format!("params: {e}"))?;
    Ok(named.name.or(named.uri).map(str::to_string))
}

const INITIALIZE_PARAMS: &str = r#"{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// One MCP session, initialized.
pub struct Session {
    http: reqwest::Client,
    bearer: Option<String>,
    next_id: u64,
    kind: Kind,
}

enum Kind {
    Sse {
        post_url: String,
        events: Events,
    },
    Streamable {
        url: String,
        id: String,
    },
    /// The `Mcp-Name` header last sent, and the params it came from: a client sends the same
    /// params over and over, and need not read them again each time.
    Stateless {
        url: String,
        name: Option<(String, Option<String>)>,
    },
}

impl Session {
    pub async fn open(
        transport: Transport,
        http: &reqwest::Client,
        base: &str,
        bearer: Option<String>,
    ) -> Result<Session, String> {
        let kind = match transport {
            Transport::Sse => {
                let mut get = http.get(format!("{base}/sse"));
                if let Some(bearer) = &bearer {
                    get = get.bearer_auth(bearer);
                }
                let response = get.send().await.map_err(|e| format!("GET /sse: {e}"))?;
                if response.status() != 200 {
                    return Err(format!("GET /sse answered {}", response.status()));
                }
                let mut events = Events::new(response);
                let (name, path) = events.next().await?;
                if name != "endpoint" {
                    return Err(format!("the first event was {name}, not endpoint"));
                }
                Kind::Sse {
                    post_url: format!("{base}{path}"),
                    events,
                }
            }
            Transport::Streamable => Kind::Streamable {
                url: format!("{base}/mcp"),
                id: String::new(),
            },
            Transport::Stateless => {
                return Ok(Session {
                    http: http.clone(),
                    bearer,
                    next_id: 0,
                    kind: Kind::Stateless {
                        url: format!("{base}/mcp"),
                        name: None,
                    },
                });
            }
        };
        let mut session = Session {
            http: http.clone(),
            bearer,
            next_id: 0,
            kind,
        };
        session.call("initialize", INITIALIZE_PARAMS).await?;
        session.notify(INITIALIZED).await?;
        Ok(session)
    }

    fn post(&self, body: String) -> reqwest::RequestBuilder {
        let (url, session_id) = match &self.kind {
            Kind::Sse { post_url, .. } => (post_url, None),
            Kind::Streamable { url, id } => (url, Some(id).filter(|id| !id.is_empty())),
            Kind::Stateless { url, .. } => (url, None),
        };
        let mut post = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT_BOTH)
            .body(body);
        if let Some(id) = session_id {
            post = post
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        if let Some(bearer) = &self.bearer {
            post = post.bearer_auth(bearer);
        }
        post
    }

    async fn notify(&mut self, body: &str) -> Result<(), String> {
        let response = self.post(body.to_string()).send().await;
        match response {
            Ok(r) if r.status() == 202 => Ok(()),
            Ok(r) => Err(format!("a notification was answered {}", r.status())),
            Err(err) => Err(format!("POST: {err}")),
        }
    }

    /// Sends one request (`params` is JSON text) and waits for its answer.
    pub async fn call(&mut self, method: &str, params: &str) -> Result<(), String> {
        self.next_id += 1;
        let id = self.next_id;
        if let Kind::Stateless { .. } = self.kind {
            return self.call_stateless(id, method, params).await;
        }
        let response = self
            .post(request(id, method, params))
            .send()
            .await
            .map_err(|e| format!("POST {method}: {e}"))?;
        let status = response.status();
        if let Kind::Streamable { id: session, .. } = &mut self.kind
            && session.is_empty()
            && let Some(value) = response.headers().get("mcp-session-id")
        {
            *session = value.to_str().unwrap_or_default().to_string();
        }
        match &mut self.kind {
            Kind::Sse { events, .. } => {
                if status != 202 {
                    return Err(format!("POST {method} answered {status}"));
                }
                loop {
                    let (name, data) = events.next().await?;
                    if name == "message"
                        && let Some(answer) = answer_to(&data, id, false)
                    {
                        return answer;
                    }
                }
            }
            Kind::Streamable { .. } => {
                if status != 200 {
                    return Err(format!("POST {method} answered {status}"));
                }
                let is_stream = response
                    .headers()
                    .get("content-type")
                    .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
                if is_stream {
                    let mut events = Events::new(response);
                    loop {
                        let (_, data) = events.next().await?;
                        if let Some(answer) = answer_to(&data, id, false) {
                            return answer;
                        }
                    }
                }
                let body = response.text().await.map_err(|e| format!("body: {e}"))?;
                answer_to(&body, id, false).unwrap_or_else(|| Err(format!("no answer in {body}")))
            }
            Kind::Stateless { .. } => unreachable!("answered by call_stateless"),
        }
    }

    /// One stateless request: the envelope in the body, mirrored in the headers; the answer
    /// must be plain JSON with a `complete` result.
    async fn call_stateless(&mut self, id: u64, method: &str, params: &str) -> Result<(), String> {
        let Kind::Stateless { name, .. } = &mut self.kind else {
            unreachable!("a stateless session")
        };
        let header = match name {
            Some((seen, header)) if seen == params => header.clone(),
            _ => {
                let header = mcp_name(method, params)?;
                *name = Some((params.to_string(), header.clone()));
                header
            }
        };
        let mut post = self
            .post(stateless_request(id, method, params))
            .header("mcp-protocol-version", STATELESS_VERSION)
            .header("mcp-method", method);
        if let Some(header) = header {
            post = post.header("mcp-name", header);
        }
        let response = post
            .send()
            .await
            .map_err(|e| format!("POST {method}: {e}"))?;
        let status = response.status();
        let is_json = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
        let body = response.text().await.map_err(|e| format!("body: {e}"))?;
        if status != 200 || !is_json {
            let body: String = body.chars().take(300).collect();
            return Err(format!(
                "POST {method} answered {status} (JSON: {is_json}): {body}"
            ));
        }
        answer_to(&body, id, true).unwrap_or_else(|| Err(format!("no answer in {body}")))
    }

    /// Ends a Streamable HTTP session with `DELETE` (an SSE session ends when dropped; a
    /// stateless client has nothing to end).
    pub async fn close(self) {
        if let Kind::Streamable { url, id } = &self.kind {
            let _ = self
                .http
                .delete(url)
                .header("mcp-session-id", id)
                .send()
                .await;
        }
    }
}

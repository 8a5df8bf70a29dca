//! A client of the stateless revision (2026-07-28), spoken raw: each request carries its
//! envelope in `_meta` and mirrors it in headers.

use reqwest::{Client, Response};
use serde_json::{Value, json};

pub const VERSION: &str = "2026-07-28";

pub fn meta(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
    })
}

pub fn request(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = meta(json!({"elicitation": {}, "sampling": {}}));
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// POSTs `body` with the headers a conforming client sends (taken from the body), changed
/// by `headers` (a `None` value leaves that header out).
pub async fn post(url: &str, body: &Value, headers: &[(&str, Option<&str>)]) -> Response {
    let method = body["method"].as_str().unwrap_or_default().to_string();
    let name = body["params"]["name"]
        .as_str()
        .or(body["params"]["uri"].as_str())
        .map(String::from);
    let mut standard = vec![
        ("MCP-Protocol-Version", Some(VERSION.to_string())),
        ("Mcp-Method", Some(method)),
        ("Mcp-Name", name),
    ];
    for (header, value) in headers {
        standard.retain(|(h, _)| !h.eq_ignore_ascii_case(header));
        standard.push((header, value.map(String::from)));
    }
    let mut request = Client::new()
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json");
    for (header, value) in standard {
        if let Some(value) = value {
            request = request.header(header, value);
        }
    }
    request.body(body.to_string()).send().await.unwrap()
}

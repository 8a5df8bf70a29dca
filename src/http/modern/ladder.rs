//! The stateless revision's validation ladder (docs/mcp-2026-07-28.md §2.4): the checks a
//! request goes through before the dispatcher sees it, first failure wins, each with its HTTP
//! status and code. Used by `super::post` only.

use actix_web::HttpRequest;
use serde_json::Value;

use super::{AppState, Modern, Refusal, headers};
use crate::mcp::{
    envelope::{self, Envelope},
    jsonrpc::{ErrorObject, Request, RequestId, Version2},
    protocol::{Method, ProtocolVersion},
};

/// A request that passed the ladder.
pub struct Checked {
    pub envelope: Envelope,
    pub version: ProtocolVersion,
    pub request: Request,
    pub method: Option<Method>,
}

/// The validation ladder, first failure wins; `None` for a valid notification.
pub fn check(http: &HttpRequest, body: Modern) -> Result<Option<Checked>, Refusal> {
    let Modern::Message(message) = body else {
        return Err(Refusal::bad(
            &None,
            ErrorObject::parse_error("the request body is not valid JSON"),
        ));
    };
    let Value::Object(mut message) = message else {
        return Err(Refusal::bad(
            &None,
            ErrorObject::invalid_request(
                "send one JSON-RPC request per POST: revision 2026-07-28 has no batches",
            ),
        ));
    };
    let id: Option<RequestId> = message
        .get("id")
        .and_then(|id| serde_json::from_value(id.clone()).ok());
    let Some(Value::String(method)) = message.remove("method") else {
        return Err(Refusal::bad(
            &id,
            ErrorObject::invalid_request(
                "not a JSON-RPC request: a stateless POST carries a method (responses belong \
                 to sessions)",
            ),
        ));
    };
    let params = message.remove("params");
    let envelope = Envelope::read(params.as_ref()).map_err(|err| Refusal::bad(&id, err))?;
    let header = |name| headers::text(http, name).map_err(|err| Refusal::bad(&id, err));
    if let Some(version) = header(headers::PROTOCOL_VERSION)?
        && version != envelope.protocol_version
    {
        return Err(Refusal::bad(
            &id,
            envelope::header_mismatch(
                "the MCP-Protocol-Version header does not match \
                 params._meta.io.modelcontextprotocol/protocolVersion",
            ),
        ));
    }
    if let Some(named) = header(headers::METHOD)?
        && named != method
    {
        return Err(Refusal::bad(
            &id,
            envelope::header_mismatch("the Mcp-Method header does not match the method"),
        ));
    }
    let version = envelope.version().map_err(|err| Refusal::bad(&id, err))?;
    let require = |name, expected: &str, what| {
        headers::require(http, name, expected, what).map_err(|err| Refusal::bad(&id, err))
    };
    require(
        headers::PROTOCOL_VERSION,
        &envelope.protocol_version,
        "the protocol version",
    )?;
    require(headers::METHOD, &method, "the method")?;
    let named = match method.as_str() {
        "tools/call" | "prompts/get" => Some(("name", "params.name")),
        "resources/read" => Some(("uri", "params.uri")),
        _ => None,
    };
    if let Some((member, what)) = named
        && let Some(Value::String(target)) = params.as_ref().and_then(|p| p.get(member))
    {
        require(headers::NAME, target, what)?;
    }
    if message.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err(Refusal::bad(
            &id,
            ErrorObject::invalid_request("jsonrpc must be \"2.0\""),
        ));
    }
    if !message.contains_key("id") {
        return Ok(None);
    }
    let Some(id) = id else {
        return Err(Refusal::bad(
            &None,
            ErrorObject::invalid_request("id must be a string or an integer"),
        ));
    };
    let parsed = Method::parse(&method);
    Ok(Some(Checked {
        envelope,
        version,
        request: Request {
            jsonrpc: Version2,
            id,
            method,
            params,
        },
        method: parsed,
    }))
}

/// Checks a `tools/call`'s `Mcp-Param-*` headers against the arguments its tool annotates.
pub fn mirrored_arguments(
    http: &HttpRequest,
    state: &AppState,
    version: ProtocolVersion,
    call: &Request,
) -> Result<(), ErrorObject> {
    let params = call.params.as_ref();
    let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
        return Ok(());
    };
    let annotated = state.dispatcher.param_headers(name, version);
    if annotated.is_empty() {
        return Ok(());
    }
    headers::check_params(http, annotated, params.and_then(|p| p.get("arguments")))
}

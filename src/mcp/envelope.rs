//! The stateless revision's per-request envelope (2026-07-28): what each request says about
//! itself in `params._meta`, in place of a handshake, and the errors that revision defines
//! for it.
//!
//! `crate::http::modern` reads the envelope of each modern request with [`Envelope::read`]
//! (after [`claims_modern`] told the eras apart), checks it against the request's headers,
//! and hands it to the dispatcher, which serves the request with what it declares. Nothing
//! here outlives the request: capabilities are the ones this request declared, never an
//! earlier one's.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    jsonrpc::{ErrorCode, ErrorObject},
    protocol::{ClientCapabilities, ClientInfo, LogLevel, ProtocolVersion},
};

/// `_meta` key of a request's protocol revision: its presence is what makes a request modern.
pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key of the capabilities a request declares (required, may be `{}`).
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key of the client's name and version (optional, for display only).
pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key of the least severe log message the request wants (optional: none without).
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// Result `_meta` key naming the server.
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// Notification `_meta` key naming the `subscriptions/listen` request it belongs to.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Whether a message (parsed, not yet typed) claims the stateless revision: its
/// `params._meta` names a protocol revision. Nothing else counts as a claim: a client
/// capability or a progress token alone does not.
pub fn claims_modern(message: &Value) -> bool {
    message
        .get("params")
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get(PROTOCOL_VERSION))
        .is_some()
}

/// What a modern request declares about itself.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The revision as the request names it (not yet known to be one this server serves).
    pub protocol_version: String,
    pub capabilities: ClientCapabilities,
    pub client: Option<ClientInfo>,
    /// `None`: the request wants no log messages at all.
    pub log_level: Option<LogLevel>,
}

impl Envelope {
    /// Reads the envelope from a request's `params`. A missing or malformed member is -32602,
    /// its `data` naming the members at fault.
    pub fn read(params: Option<&Value>) -> Result<Envelope, ErrorObject> {
        let Some(meta) = params
            .and_then(|params| params.get("_meta"))
            .and_then(Value::as_object)
        else {
            return Err(envelope_error("missing", &["_meta"]));
        };
        let mut missing = Vec::new();
        let mut invalid = Vec::new();
        let protocol_version = match meta.get(PROTOCOL_VERSION) {
            Some(Value::String(version)) => version.clone(),
            Some(_) => {
                invalid.push(PROTOCOL_VERSION);
                String::new()
            }
            None => {
                missing.push(PROTOCOL_VERSION);
                String::new()
            }
        };
        let capabilities = match meta.get(CLIENT_CAPABILITIES) {
            Some(value @ Value::Object(_)) => {
                ClientCapabilities::deserialize(value).unwrap_or_default()
            }
            Some(_) => {
                invalid.push(CLIENT_CAPABILITIES);
                ClientCapabilities::default()
            }
            None => {
                missing.push(CLIENT_CAPABILITIES);
                ClientCapabilities::default()
            }
        };
        let client = match meta.get(CLIENT_INFO) {
            None => None,
            Some(value) => match ClientInfo::deserialize(value) {
                Ok(info) => Some(info),
                Err(_) => {
                    invalid.push(CLIENT_INFO);
                    None
                }
            },
        };
        let log_level = match meta.get(LOG_LEVEL) {
            None => None,
            Some(value) => match LogLevel::deserialize(value) {
                Ok(level) => Some(level),
                Err(_) => {
                    invalid.push(LOG_LEVEL);
                    None
                }
            },
        };
        if !missing.is_empty() {
            return Err(envelope_error("missing", &missing));
        }
        if !invalid.is_empty() {
            return Err(envelope_error("invalid", &invalid));
        }
        Ok(Envelope {
            protocol_version,
            capabilities,
            client,
            log_level,
        })
    }

    /// The revision the request names, if this server serves it statelessly; otherwise
    /// -32022 naming the ones it does.
    pub fn version(&self) -> Result<ProtocolVersion, ErrorObject> {
        match self.protocol_version.parse::<ProtocolVersion>() {
            Ok(version) if version.is_modern() => Ok(version),
            _ => Err(unsupported_version(&self.protocol_version)),
        }
    }
}

fn envelope_error(what: &str, members: &[&str]) -> ErrorObject {
    ErrorObject::invalid_params(format!(
        "invalid request envelope: params._meta {what} {}",
        members.join(", ")
    ))
    .with_data(json!({"envelope": {what: members}}))
}

/// -32022: the request names a revision this server does not serve statelessly.
pub fn unsupported_version(requested: &str) -> ErrorObject {
    let supported: Vec<&str> = ProtocolVersion::MODERN.iter().map(|v| v.as_str()).collect();
    ErrorObject::new(
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
        format!(
            "unsupported protocol version; this server serves {} without a session",
            supported.join(", ")
        ),
    )
    .with_data(json!({"supported": supported, "requested": requested}))
}

/// -32020: a header is missing, malformed, or disagrees with the body.
pub fn header_mismatch(message: impl Into<String>) -> ErrorObject {
    ErrorObject::new(ErrorCode::HEADER_MISMATCH, message)
}

/// -32021: the request needs client capabilities it did not declare.
pub fn missing_capabilities(names: &[&str]) -> ErrorObject {
    let required: Map<String, Value> = names
        .iter()
        .map(|name| (name.to_string(), json!({})))
        .collect();
    ErrorObject::new(
        ErrorCode::MISSING_CLIENT_CAPABILITY,
        format!(
            "this request needs the client capability {}; declare it in \
             _meta.{CLIENT_CAPABILITIES}",
            names.join(", ")
        ),
    )
    .with_data(json!({"requiredCapabilities": required}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(meta: Value) -> Value {
        json!({"_meta": meta})
    }

    #[test]
    fn only_a_named_revision_is_a_claim() {
        let claim = json!({"params": {"_meta": {PROTOCOL_VERSION: "2026-07-28"}}});
        assert!(claims_modern(&claim));
        for other in [
            json!({"params": {"_meta": {CLIENT_CAPABILITIES: {}, "progressToken": 1}}}),
            json!({"params": {}}),
            json!({"method": "initialize"}),
            json!([]),
        ] {
            assert!(!claims_modern(&other), "{other}");
        }
    }

    #[test]
    fn a_full_envelope_is_read_and_unknown_capabilities_pass() {
        let envelope = Envelope::read(Some(&params(json!({
            PROTOCOL_VERSION: "2026-07-28",
            CLIENT_CAPABILITIES: {"sampling": {}, "roots": {"listChanged": true}, "x": 1},
            CLIENT_INFO: {"name": "c", "version": "1"},
            LOG_LEVEL: "info",
        }))))
        .unwrap();
        assert_eq!(envelope.version(), Ok(ProtocolVersion::V2026_07_28));
        assert!(envelope.capabilities.sampling && envelope.capabilities.roots);
        assert!(!envelope.capabilities.elicitation);
        assert_eq!(envelope.log_level, Some(LogLevel::Info));
        assert_eq!(envelope.client.unwrap().name, "c");
    }

    #[test]
    fn missing_or_malformed_members_are_invalid_params_naming_them() {
        for (meta, named) in [
            (None, "_meta"),
            (Some(json!({CLIENT_CAPABILITIES: {}})), PROTOCOL_VERSION),
            (
                Some(json!({PROTOCOL_VERSION: "2026-07-28"})),
                CLIENT_CAPABILITIES,
            ),
            (
                Some(json!({PROTOCOL_VERSION: 7, CLIENT_CAPABILITIES: {}})),
                PROTOCOL_VERSION,
            ),
            (
                Some(
                    json!({PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: {}, LOG_LEVEL: "loud"}),
                ),
                LOG_LEVEL,
            ),
        ] {
            let params = meta.map(params);
            let err = Envelope::read(params.as_ref()).unwrap_err();
            assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
            assert!(err.data.unwrap().to_string().contains(named), "{named}");
        }
    }

    #[test]
    fn handshake_or_unknown_revisions_are_unsupported_with_what_is() {
        for asked in ["2025-11-25", "v999.0.0", ""] {
            let envelope = Envelope {
                protocol_version: asked.into(),
                capabilities: ClientCapabilities::default(),
                client: None,
                log_level: None,
            };
            let err = envelope.version().unwrap_err();
            assert_eq!(err.code, ErrorCode::UNSUPPORTED_PROTOCOL_VERSION);
            assert_eq!(
                err.data,
                Some(json!({"supported": ["2026-07-28"], "requested": asked}))
            );
        }
    }

    #[test]
    fn a_missing_capability_is_named_as_an_object() {
        let err = missing_capabilities(&["sampling"]);
        assert_eq!(err.code, ErrorCode::MISSING_CLIENT_CAPABILITY);
        assert_eq!(
            err.data,
            Some(json!({"requiredCapabilities": {"sampling": {}}}))
        );
    }
}

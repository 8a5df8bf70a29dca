//! The `error` member of a JSON-RPC error response: a code ([`ErrorCode`], with the codes MCP
//! uses as constants) and a message. Every handler that refuses a request returns an
//! [`ErrorObject`]; the session or the transport wraps it in an error response.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON-RPC error code. The constants are the ones MCP uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// The body is not valid JSON.
    pub const PARSE_ERROR: ErrorCode = ErrorCode(-32700);
    /// Valid JSON, but not a JSON-RPC message (or not one this transport takes).
    pub const INVALID_REQUEST: ErrorCode = ErrorCode(-32600);
    /// No such method, or a capability this server does not offer.
    pub const METHOD_NOT_FOUND: ErrorCode = ErrorCode(-32601);
    /// Bad params: unknown tool or prompt, invalid cursor, invalid log level, ...
    pub const INVALID_PARAMS: ErrorCode = ErrorCode(-32602);
    /// A fault of the server's own.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(-32603);
    /// MCP (2024-11-05 to 2025-11-25): `resources/read` of a URI that does not exist.
    pub const RESOURCE_NOT_FOUND: ErrorCode = ErrorCode(-32002);
    /// Implementation-defined server error: too busy for this request, or shutting down.
    /// Handshake era only: the stateless revision keeps -32000..-32019 out of new code.
    pub const SERVER_BUSY: ErrorCode = ErrorCode(-32000);
    /// Stateless revision: an `MCP-Protocol-Version`, `Mcp-Method` or `Mcp-Name` header is
    /// missing, malformed, or says other than the body.
    pub const HEADER_MISMATCH: ErrorCode = ErrorCode(-32020);
    /// Stateless revision: the request needs a client capability it did not declare.
    pub const MISSING_CLIENT_CAPABILITY: ErrorCode = ErrorCode(-32021);
    /// Stateless revision: the request names a protocol revision this server does not serve.
    pub const UNSUPPORTED_PROTOCOL_VERSION: ErrorCode = ErrorCode(-32022);
}

/// The `error` member of an error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl ErrorObject {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn parse_error(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PARSE_ERROR, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_REQUEST, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_PARAMS, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, message)
    }
}

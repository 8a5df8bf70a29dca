//! The request headers of the stateless revision: `MCP-Protocol-Version`, `Mcp-Method` and
//! `Mcp-Name` mirror the body, so that a proxy can route without reading it, and must agree
//! with it. Used by `super` (the validation ladder) only.
//!
//! Names are case-insensitive, values exact after trimming optional whitespace. A value that
//! is not plain visible ASCII travels base64-encoded between `=?base64?` and `?=`, and is
//! decoded strictly (padding required) before it is compared.

use actix_web::HttpRequest;
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::mcp::{envelope::header_mismatch, jsonrpc::ErrorObject};

pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub const METHOD: &str = "mcp-method";
pub const NAME: &str = "mcp-name";

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// The header's value, trimmed; `None` when absent. A value with bytes outside visible ASCII
/// (and spaces) is -32020: it should have been sent base64-encoded.
pub fn text<'a>(request: &'a HttpRequest, name: &str) -> Result<Option<&'a str>, ErrorObject> {
    let Some(value) = request.headers().get(name) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        header_mismatch(format!(
            "the {name} header holds characters that must be sent base64-encoded \
             ({SENTINEL_START}...{SENTINEL_END})"
        ))
    })?;
    Ok(Some(text.trim_matches([' ', '\t'])))
}

/// A header value as the body would say it: decoded if it is a base64 sentinel.
pub fn decoded(name: &str, value: &str) -> Result<String, ErrorObject> {
    let Some(encoded) = value
        .strip_prefix(SENTINEL_START)
        .and_then(|rest| rest.strip_suffix(SENTINEL_END))
    else {
        return Ok(value.to_string());
    };
    STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| header_mismatch(format!("the {name} header is not valid base64 UTF-8")))
}

/// Checks that header `name` is present and says `expected` (`what` names it for the message).
pub fn require(
    request: &HttpRequest,
    name: &str,
    expected: &str,
    what: &str,
) -> Result<(), ErrorObject> {
    let value = text(request, name)?
        .ok_or_else(|| header_mismatch(format!("missing {name} header: it must repeat {what}")))?;
    if decoded(name, value)? != expected {
        return Err(header_mismatch(format!(
            "the {name} header does not match {what} in the body"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::mcp::jsonrpc::ErrorCode;

    #[test]
    fn sentinels_decode_strictly_and_anything_else_is_literal() {
        assert_eq!(decoded(NAME, "=?base64?SGVsbG8=?=").unwrap(), "Hello");
        assert_eq!(decoded(NAME, "plain").unwrap(), "plain");
        assert_eq!(
            decoded(NAME, "=?base64?SGVsbG8=").unwrap(),
            "=?base64?SGVsbG8="
        );
        for bad in ["=?base64?SGVsbG8?=", "=?base64?SGVs!!!bG8=?="] {
            let err = decoded(NAME, bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::HEADER_MISMATCH, "{bad}");
        }
    }

    #[test]
    fn values_are_trimmed_compared_exactly_and_must_be_present() {
        let request = TestRequest::default()
            .insert_header(("Mcp-Name", "  test_x \t"))
            .insert_header(("MCP-METHOD", "TOOLS/LIST"))
            .to_http_request();
        require(&request, NAME, "test_x", "params.name").unwrap();
        let err = require(&request, METHOD, "tools/list", "method").unwrap_err();
        assert_eq!(err.code, ErrorCode::HEADER_MISMATCH);
        let err = require(&request, PROTOCOL_VERSION, "2026-07-28", "the version").unwrap_err();
        assert!(err.message.contains("missing"), "{}", err.message);
    }

    #[test]
    fn non_ascii_values_are_refused_not_a_panic() {
        let request = TestRequest::default()
            .insert_header((
                "Mcp-Name",
                actix_web::http::header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
            ))
            .to_http_request();
        let err = text(&request, NAME).unwrap_err();
        assert_eq!(err.code, ErrorCode::HEADER_MISMATCH);
    }
}

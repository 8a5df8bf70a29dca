//! The request headers of the stateless revision: `MCP-Protocol-Version`, `Mcp-Method`,
//! `Mcp-Name` and `Mcp-Param-*` (the tool arguments whose schema says `x-mcp-header`) mirror
//! the body, so that a proxy can route without reading it, and must agree with it. Used by
//! `super` (the validation ladder) only.
//!
//! Names are case-insensitive, values exact after trimming optional whitespace. A value that
//! is not plain visible ASCII travels base64-encoded between `=?base64?` and `?=`, and is
//! decoded strictly (padding required) before it is compared.

use actix_web::HttpRequest;
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;

use crate::{
    mcp::{envelope::header_mismatch, jsonrpc::ErrorObject},
    tools::ParamHeader,
};

pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
pub const METHOD: &str = "mcp-method";
pub const NAME: &str = "mcp-name";

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// The header's value, trimmed; `None` when absent. A value with bytes outside visible ASCII
/// (and spaces) is -32020: it should have been sent base64-encoded.
pub fn text<'a>(request: &'a HttpRequest, name: &str) -> Result<Option<&'a str>, ErrorObject> {
    let mut values = request.headers().get_all(name);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        // A proxy that routes on another of them would not see what the server checks.
        return Err(header_mismatch(format!("the {name} header is repeated")));
    }
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

/// Checks a `tools/call`'s `Mcp-Param-{header}` headers against its `arguments`: each
/// annotated argument present in the body must be in its header too, saying the same (after
/// decoding; integers compared as numbers, booleans as `true`/`false`).
pub fn check_params(
    request: &HttpRequest,
    params: &[ParamHeader],
    arguments: Option<&Value>,
) -> Result<(), ErrorObject> {
    for param in params {
        let name = format!("mcp-param-{}", param.header);
        let header = text(request, &name)?;
        let value = arguments
            .and_then(|arguments| arguments.get(&param.argument))
            .filter(|value| !value.is_null());
        let Some(value) = value else {
            continue;
        };
        let header = header.ok_or_else(|| {
            header_mismatch(format!(
                "missing {name} header: it must repeat arguments.{}",
                param.argument
            ))
        })?;
        if !same(value, &decoded(&name, header)?) {
            return Err(header_mismatch(format!(
                "the {name} header does not match arguments.{}",
                param.argument
            )));
        }
    }
    Ok(())
}

/// Whether a header's text says `value`.
fn same(value: &Value, text: &str) -> bool {
    match value {
        Value::String(value) => value == text,
        Value::Bool(value) => text == if *value { "true" } else { "false" },
        // Integers only (the revision does not let other numbers be mirrored), compared
        // exactly: decimal digits, with `.0` allowed (`42.0` says 42).
        Value::Number(value) => {
            let digits = match text.split_once('.') {
                Some((whole, zeros)) if !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') => {
                    whole
                }
                Some(_) => return false,
                None => text,
            };
            let said = digits.parse::<i128>().ok();
            let is = value
                .as_i64()
                .map(i128::from)
                .or(value.as_u64().map(i128::from));
            said.is_some() && said == is
        }
        _ => false,
    }
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
    fn annotated_arguments_must_be_mirrored_exactly() {
        let params = [
            ParamHeader {
                header: "Region".into(),
                argument: "region".into(),
                kind: "string".into(),
            },
            ParamHeader {
                header: "Count".into(),
                argument: "count".into(),
                kind: "integer".into(),
            },
        ];
        let arguments = serde_json::json!({"region": "eu-west", "count": 42});
        let with = |headers: &[(&str, &str)]| {
            let mut request = TestRequest::default();
            for header in headers {
                request = request.insert_header(*header);
            }
            check_params(&request.to_http_request(), &params, Some(&arguments))
        };
        with(&[("Mcp-Param-Region", "eu-west"), ("mcp-param-count", "42.0")]).unwrap();
        with(&[
            ("Mcp-Param-Region", "=?base64?ZXUtd2VzdA==?="),
            ("Mcp-Param-Count", "42"),
        ])
        .unwrap();
        for wrong in [
            vec![("Mcp-Param-Region", "us-east"), ("Mcp-Param-Count", "42")],
            vec![
                ("Mcp-Param-Region", "eu-west"),
                ("Mcp-Param-Count", "4.2e1"),
            ],
            vec![("Mcp-Param-Region", "eu-west"), ("Mcp-Param-Count", "42.5")],
            vec![("Mcp-Param-Count", "42")],
            vec![("Mcp-Param-Region", "eu-west"), ("Mcp-Param-Count", "43")],
        ] {
            let err = with(&wrong).unwrap_err();
            assert_eq!(err.code, ErrorCode::HEADER_MISMATCH, "{wrong:?}");
        }
        // An argument left out needs no header.
        check_params(&TestRequest::default().to_http_request(), &params, None).unwrap();
    }

    #[test]
    fn a_repeated_header_is_refused() {
        let request = TestRequest::default()
            .append_header(("Mcp-Method", "tools/list"))
            .append_header(("Mcp-Method", "tools/call"))
            .to_http_request();
        let err = text(&request, METHOD).unwrap_err();
        assert_eq!(err.code, ErrorCode::HEADER_MISMATCH);
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

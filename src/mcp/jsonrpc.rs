//! JSON-RPC 2.0 envelope types, as MCP restricts them.
//!
//! Every message a client POSTs is parsed here first, by the HTTP transports, before it reaches a
//! session. The types reject bad input by construction: `jsonrpc` must be exactly `"2.0"`, an id is
//! an integer or a string (never `null`, never a fraction), and a message is classified by which
//! members it has, so that `{"id": null, "method": "x"}` is an invalid request rather than being
//! mistaken for a notification.
//!
//! This file holds the envelope: the version, ids, the four kinds of [`Message`] and how one is
//! read. What goes inside a response lives below it: `error.rs` ([`ErrorCode`], [`ErrorObject`])
//! and `result.rs` ([`ResultObject`], [`SerializedResult`]); both are re-exported here.

mod error;
mod result;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::Value;

pub use error::{ErrorCode, ErrorObject};
pub use result::{Members, ResultObject, SerializedResult};

/// The `jsonrpc` member: serializes as `"2.0"` and accepts nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version2;

impl Serialize for Version2 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("2.0")
    }
}

impl<'de> Deserialize<'de> for Version2 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "2.0" {
            Ok(Version2)
        } else {
            Err(de::Error::custom(format!(
                "jsonrpc must be \"2.0\", got {text:?}"
            )))
        }
    }
}

/// A request id: an integer or a string, echoed back with the JSON type it came with.
///
/// This is an untagged enum, so the variant order decides how JSON is read; the test
/// `request_id_variant_order_is_pinned` fails if someone reorders it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Number(i64),
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A request: it has an id and expects exactly one response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub jsonrpc: Version2,
    pub id: RequestId,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// A notification: no id, and the receiver must never answer it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub jsonrpc: Version2,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

impl Notification {
    pub fn new(method: impl Into<String>, params: Option<Value>) -> Self {
        Notification {
            jsonrpc: Version2,
            method: method.into(),
            params,
        }
    }
}

/// A successful response. MCP results are always objects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub jsonrpc: Version2,
    pub id: RequestId,
    pub result: ResultObject,
}

/// An error response. The id is absent when the request's id could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorResponse {
    pub jsonrpc: Version2,
    /// Serialized as `null` when unknown: the JSON-RPC 2.0 form, which every SDK accepts.
    pub id: Option<RequestId>,
    pub error: ErrorObject,
}

/// Any one JSON-RPC message, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    Response(Response),
    Error(ErrorResponse),
}

impl Message {
    pub fn response(id: RequestId, result: impl Into<ResultObject>) -> Self {
        Message::Response(Response {
            jsonrpc: Version2,
            id,
            result: result.into(),
        })
    }

    pub fn error(id: Option<RequestId>, error: ErrorObject) -> Self {
        Message::Error(ErrorResponse {
            jsonrpc: Version2,
            id,
            error,
        })
    }

    /// The answer to a request: its result, or its error.
    pub fn reply<R: Into<ResultObject>>(id: RequestId, outcome: Result<R, ErrorObject>) -> Self {
        match outcome {
            Ok(result) => Message::response(id, result),
            Err(error) => Message::error(Some(id), error),
        }
    }

    /// Reads one message from a JSON value, or says why it is not a JSON-RPC message.
    pub fn from_value(value: Value) -> Result<Message, ErrorObject> {
        let Value::Object(_) = value else {
            return Err(ErrorObject::invalid_request(
                "a JSON-RPC message must be a JSON object",
            ));
        };
        let raw: RawMessage = serde_json::from_value(value).map_err(|err| {
            ErrorObject::invalid_request(format!("invalid JSON-RPC message: {err}"))
        })?;
        raw.classify()
            .map_err(|why| ErrorObject::invalid_request(format!("invalid JSON-RPC message: {why}")))
    }
}

/// The members any message may have. `id` distinguishes "absent" from `null`.
#[derive(Deserialize)]
struct RawMessage {
    /// Read only to reject anything but "2.0".
    #[serde(rename = "jsonrpc")]
    _jsonrpc: Version2,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    method: Option<String>,
    #[serde(default, deserialize_with = "present")]
    params: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    error: Option<ErrorObject>,
}

/// Deserializes a member that is present (even as `null`) into `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn parse_id(id: Value) -> Result<RequestId, &'static str> {
    match id {
        Value::Null => Err("id must not be null"),
        Value::Number(n) => n
            .as_i64()
            .map(RequestId::Number)
            .ok_or("id must be an integer or a string"),
        Value::String(s) => Ok(RequestId::String(s)),
        _ => Err("id must be an integer or a string"),
    }
}

impl RawMessage {
    fn classify(self) -> Result<Message, &'static str> {
        let params = match self.params {
            None => None,
            Some(Value::Object(map)) => Some(Value::Object(map)),
            Some(_) => return Err("params must be an object"),
        };
        match (self.method, self.result, self.error) {
            (Some(method), None, None) => match self.id {
                None => Ok(Message::Notification(Notification {
                    jsonrpc: Version2,
                    method,
                    params,
                })),
                Some(id) => Ok(Message::Request(Request {
                    jsonrpc: Version2,
                    id: parse_id(id)?,
                    method,
                    params,
                })),
            },
            (None, Some(result), None) => {
                let id = parse_id(self.id.ok_or("a response needs an id")?)?;
                let Value::Object(result) = result else {
                    return Err("result must be an object");
                };
                Ok(Message::response(id, result))
            }
            (None, None, Some(error)) => {
                let id = match self.id {
                    None | Some(Value::Null) => None,
                    Some(id) => Some(parse_id(id)?),
                };
                Ok(Message::error(id, error))
            }
            (None, None, None) => Err("a message needs a method, a result or an error"),
            _ => Err("a message has only one of method, result and error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn parse(value: Value) -> Result<Message, ErrorObject> {
        Message::from_value(value)
    }

    #[test]
    fn request_id_variant_order_is_pinned() {
        // Untagged: serde tries Number first. A number must never become a string id and a
        // numeric string must stay a string, so that ids are echoed with their JSON type.
        assert_eq!(
            serde_json::from_value::<RequestId>(json!(7)).unwrap(),
            RequestId::Number(7)
        );
        assert_eq!(
            serde_json::from_value::<RequestId>(json!("7")).unwrap(),
            RequestId::String("7".into())
        );
        assert_eq!(
            serde_json::to_value(RequestId::Number(7)).unwrap(),
            json!(7)
        );
        assert_eq!(
            serde_json::to_value(RequestId::String("7".into())).unwrap(),
            json!("7")
        );
    }

    #[test]
    fn message_variant_order_is_pinned() {
        // `Message` serializes untagged; each variant must produce exactly its own members.
        let request = Message::Request(Request {
            jsonrpc: Version2,
            id: RequestId::Number(1),
            method: "ping".into(),
            params: None,
        });
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"jsonrpc":"2.0","id":1,"method":"ping"})
        );
        let note = Message::Notification(Notification::new("notifications/initialized", None));
        assert_eq!(
            serde_json::to_value(&note).unwrap(),
            json!({"jsonrpc":"2.0","method":"notifications/initialized"})
        );
        let ok = Message::response(RequestId::String("a".into()), Map::new());
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"jsonrpc":"2.0","id":"a","result":{}})
        );
        let err = Message::error(None, ErrorObject::parse_error("bad"));
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}})
        );
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","id":"x","method":"ping"})),
            Ok(Message::Request(Request {
                id: RequestId::String(_),
                ..
            }))
        ));
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","method":"notifications/initialized"})),
            Ok(Message::Notification(_))
        ));
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","id":3,"result":{}})),
            Ok(Message::Response(_))
        ));
        assert!(matches!(
            parse(json!({"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}})),
            Ok(Message::Error(_))
        ));
    }

    #[test]
    fn null_id_is_an_invalid_request_not_a_notification() {
        let err = parse(json!({"jsonrpc":"2.0","id":null,"method":"ping"})).unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_REQUEST);
        assert!(
            err.message.contains("id must not be null"),
            "{}",
            err.message
        );
    }

    #[test]
    fn malformed_messages_are_invalid_requests() {
        for bad in [
            json!([]),
            json!("ping"),
            json!({"method":"ping","id":1}),
            json!({"jsonrpc":"1.0","method":"ping","id":1}),
            json!({"jsonrpc":"2.0","id":1.5,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":{},"method":"ping"}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","id":1,"method":"ping","result":{}}),
            json!({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}),
            json!({"jsonrpc":"2.0","id":1,"result":[]}),
            json!({"jsonrpc":"2.0","method":7}),
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert_eq!(err.code, ErrorCode::INVALID_REQUEST, "{bad}");
        }
    }

    #[test]
    fn error_response_without_readable_id_keeps_no_id() {
        let msg = parse(json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}));
        assert!(matches!(
            msg,
            Ok(Message::Error(ErrorResponse { id: None, .. }))
        ));
    }
}

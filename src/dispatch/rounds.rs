//! Multi round-trip requests of the stateless revision (`input_required` results): the
//! [`Round`] a retry brings back, and the `requestState` that carries a handler's state
//! through the client, sealed so that it cannot be forged, altered, moved to another request
//! or principal, or used after it expires.
//!
//! A sealed state is `v1.<payload>.<tag>`, both base64url without padding: the payload is
//! `{"e": <expiry, Unix seconds>, "s": <the handler's state>}` and the tag is HMAC-SHA256
//! over `v1.<payload>` and the request's [`Binding`] (the principal, method, tool or prompt
//! name and arguments), which the payload does not show. Every failure is the same opaque
//! -32602. The key comes from `mcp.request_state_key`, or is made at start: replicas behind
//! one load balancer need the same key, or a retry landing elsewhere is refused.
//!
//! The dispatcher opens the state before the handler runs ([`Dispatcher::round`]) and seals
//! what the handler asks to keep ([`Sealer::seal`]).

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{digest, hmac, rand};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Dispatcher, McpState};
pub use crate::call::{InputRequired, Round};
use crate::mcp::jsonrpc::{ErrorObject, ResultObject};

const VERSION: &str = "v1.";

/// The key that seals request states. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct StateKey(Arc<hmac::Key>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(..)")
    }
}

impl StateKey {
    /// A key from configured secret bytes.
    pub fn new(secret: &[u8]) -> Self {
        StateKey(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// A key of this process's own: states it seals open only here.
    pub fn generate() -> Self {
        let rng = rand::SystemRandom::new();
        StateKey(Arc::new(
            hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("the system's random source"),
        ))
    }
}

impl Default for StateKey {
    fn default() -> Self {
        Self::generate()
    }
}

/// What a state is bound to: a digest of the principal, the method, the tool or prompt name
/// and its arguments, so that a state sealed for one request opens for its retries only.
#[derive(Debug, Clone)]
pub struct Binding(digest::Digest);

impl Binding {
    /// `arguments` must serialize with its keys sorted (a `serde_json::Map`, a `BTreeMap`),
    /// so that equal arguments give equal bindings.
    pub fn of(principal: &str, method: &str, name: &str, arguments: &impl Serialize) -> Self {
        let mut context = digest::Context::new(&digest::SHA256);
        for part in [principal, method, name] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        let arguments = serde_json::to_vec(arguments).expect("arguments serialize");
        context.update(&arguments);
        Binding(context.finish())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn invalid_state() -> ErrorObject {
    ErrorObject::invalid_params(
        "invalid requestState: it was altered, has expired, or belongs to another request; \
         send the request again without requestState and inputResponses",
    )
}

/// Seals states for one request.
#[derive(Debug, Clone)]
pub struct Sealer {
    key: StateKey,
    binding: Binding,
    ttl: Duration,
}

impl Sealer {
    fn tag(&self, sealed: &str) -> hmac::Tag {
        hmac::sign(&self.key.0, &signed(sealed, &self.binding))
    }

    pub fn seal(&self, state: &Value) -> String {
        let expiry = now() + self.ttl.as_secs();
        let payload = URL_SAFE_NO_PAD.encode(json!({"e": expiry, "s": state}).to_string());
        let sealed = format!("{VERSION}{payload}");
        let tag = URL_SAFE_NO_PAD.encode(self.tag(&sealed).as_ref());
        format!("{sealed}.{tag}")
    }

    /// The state inside `text`, if it is whole, ours, for this request and not expired.
    pub fn open(&self, text: &str) -> Result<Value, ErrorObject> {
        let (sealed, tag) = text.rsplit_once('.').ok_or_else(invalid_state)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid_state())?;
        // Constant time: `verify` compares the whole tag.
        hmac::verify(&self.key.0, &signed(sealed, &self.binding), &tag)
            .map_err(|_| invalid_state())?;
        let payload = sealed.strip_prefix(VERSION).ok_or_else(invalid_state)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| invalid_state())?;
        let mut payload: Map<String, Value> =
            serde_json::from_slice(&payload).map_err(|_| invalid_state())?;
        match payload.get("e").and_then(Value::as_u64) {
            Some(expiry) if expiry >= now() => {}
            _ => return Err(invalid_state()),
        }
        Ok(payload.remove("s").unwrap_or(Value::Null))
    }

    /// An `input_required` result: what to ask, and the state to get back, sealed.
    pub fn input_required(&self, input: InputRequired) -> ResultObject {
        let mut result = Map::new();
        result.insert("resultType".into(), json!("input_required"));
        if !input.requests.is_empty() {
            result.insert("inputRequests".into(), Value::Object(input.requests));
        }
        if let Some(state) = input.state {
            result.insert("requestState".into(), json!(self.seal(&state)));
        }
        result.into()
    }
}

/// What the tag is computed over: the sealed text and the binding.
fn signed(sealed: &str, binding: &Binding) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(sealed.len() + 32);
    bytes.extend_from_slice(sealed.as_bytes());
    bytes.extend_from_slice(binding.0.as_ref());
    bytes
}

impl Dispatcher {
    /// The round of a stateless request of `method` on `name` with `arguments`, from its
    /// `inputResponses` and `requestState`; `None` in a session, which has no rounds. A
    /// state that does not open is refused; `inputResponses` must be an object (`null` is
    /// taken as none: the handler asks again). `arguments` as [`Binding::of`] takes them.
    pub(super) fn round(
        &self,
        state: &McpState,
        method: &str,
        name: &str,
        arguments: &impl Serialize,
        responses: Option<Value>,
        request_state: Option<Value>,
    ) -> Result<Option<(Round, Sealer)>, ErrorObject> {
        if !state.stateless {
            return Ok(None);
        }
        let sealer = Sealer {
            key: self.config.request_state_key.clone(),
            binding: Binding::of(&state.principal, method, name, arguments),
            ttl: self.config.request_state_ttl,
        };
        let responses = match responses {
            None | Some(Value::Null) => None,
            Some(Value::Object(responses)) => Some(responses),
            Some(_) => {
                return Err(ErrorObject::invalid_params(
                    "inputResponses must be an object of answers by key",
                ));
            }
        };
        let opened = match request_state {
            None => None,
            Some(Value::String(text)) => Some(sealer.open(&text)?),
            Some(_) => return Err(invalid_state()),
        };
        let round = Round {
            responses,
            state: opened,
            capabilities: state.client_capabilities,
        };
        Ok(Some((round, sealer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(key: &StateKey, principal: &str, name: &str) -> Sealer {
        Sealer {
            key: key.clone(),
            binding: Binding::of(principal, "tools/call", name, &json!({"a": 1})),
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_state_opens_only_whole_under_its_key_for_its_request() {
        let key = StateKey::new(b"0123456789abcdef0123456789abcdef");
        let ours = sealer(&key, "alice", "t");
        let sealed = ours.seal(&json!({"step": 2}));
        assert_eq!(ours.open(&sealed).unwrap(), json!({"step": 2}));
        let same_key_elsewhere = Sealer {
            key: StateKey::new(b"0123456789abcdef0123456789abcdef"),
            ..ours.clone()
        };
        assert!(
            same_key_elsewhere.open(&sealed).is_ok(),
            "a shared key opens it"
        );
        for refused in [
            format!("{sealed}-TAMPERED"),
            sealed[..sealed.len() - 1].to_string(),
            sealed.replacen("v1.", "v2.", 1),
            format!("x{sealed}"),
            String::new(),
        ] {
            assert!(ours.open(&refused).is_err(), "{refused}");
        }
        assert!(sealer(&key, "mallory", "t").open(&sealed).is_err());
        assert!(sealer(&key, "alice", "other").open(&sealed).is_err());
        assert!(
            sealer(&StateKey::generate(), "alice", "t")
                .open(&sealed)
                .is_err()
        );
    }

    #[test]
    fn a_binding_does_not_depend_on_the_order_arguments_came_in() {
        let one: Value = serde_json::from_str(r#"{"b": 2, "a": {"y": 1, "x": [1, 2]}}"#).unwrap();
        let two: Value = serde_json::from_str(r#"{"a": {"x": [1, 2], "y": 1}, "b": 2}"#).unwrap();
        let digest = |arguments: &Value| Binding::of("p", "tools/call", "t", arguments).0;
        assert_eq!(digest(&one).as_ref(), digest(&two).as_ref());
        let other: Value = serde_json::from_str(r#"{"a": {"x": [2, 1], "y": 1}, "b": 2}"#).unwrap();
        assert_ne!(digest(&one).as_ref(), digest(&other).as_ref());
    }

    #[test]
    fn an_expired_state_is_refused() {
        let key = StateKey::generate();
        let expired = Sealer {
            ttl: Duration::ZERO,
            ..sealer(&key, "alice", "t")
        };
        let payload = URL_SAFE_NO_PAD.encode(json!({"e": now() - 1, "s": 1}).to_string());
        let sealed = format!("{VERSION}{payload}");
        let tag = URL_SAFE_NO_PAD.encode(expired.tag(&sealed).as_ref());
        assert!(expired.open(&format!("{sealed}.{tag}")).is_err());
    }

    #[test]
    fn the_key_is_not_shown() {
        assert_eq!(format!("{:?}", StateKey::generate()), "StateKey(..)");
    }
}

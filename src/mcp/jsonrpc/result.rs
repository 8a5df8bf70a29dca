//! The `result` member of a successful response: an object built for the answer, or one
//! serialized before and kept ([`SerializedResult`]; `crate::tools::renderings` keeps a tool
//! result rendered once for many identical calls, the dispatcher the first `tools/list` page).

use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, value::RawValue};

/// A response's result: an object built for this answer, or one serialized before and kept
/// (a tool result rendered once for many identical calls), sent as the text it already is.
#[derive(Debug, Clone)]
pub enum ResultObject {
    Built(Map<String, Value>),
    Serialized(SerializedResult),
}

/// A result object as compact JSON text, with whether it is a tool result with `isError`
/// (read by metrics, which should not parse the text to find out).
#[derive(Debug, Clone)]
pub struct SerializedResult {
    json: Arc<RawValue>,
    tool_error: bool,
}

impl SerializedResult {
    /// Serializes `result`. Our maps hold only string keys and finite numbers, so this cannot
    /// fail.
    pub fn of(result: &Map<String, Value>) -> Self {
        SerializedResult {
            // Straight to raw JSON: `RawValue::from_string` would parse the text again.
            json: serde_json::value::to_raw_value(result)
                .expect("a JSON object serializes")
                .into(),
            tool_error: reports_tool_error(result),
        }
    }

    /// Serializes a result object of another shape (a struct borrowing what it shows), which
    /// says itself whether it reports a tool error.
    pub fn of_serializable<T: serde::Serialize>(result: &T, tool_error: bool) -> Self {
        SerializedResult {
            json: serde_json::value::to_raw_value(result)
                .expect("a result of strings, integers and string-keyed maps serializes")
                .into(),
            tool_error,
        }
    }

    pub fn json(&self) -> &str {
        self.json.get()
    }

    pub fn is_tool_error(&self) -> bool {
        self.tool_error
    }
}

/// Members to add to results (see [`ResultObject::into_json_with`]), kept as a map and as
/// the JSON text between their braces: made once, added to many answers.
#[derive(Debug, Clone)]
pub struct Members {
    map: Map<String, Value>,
    inner: String,
}

impl Members {
    pub fn new(map: Map<String, Value>) -> Self {
        let text = serde_json::to_string(&map).expect("a JSON object serializes");
        Members {
            inner: text[1..text.len() - 1].to_string(),
            map,
        }
    }
}

/// Whether a result is a tool result with `isError: true`.
fn reports_tool_error(result: &Map<String, Value>) -> bool {
    result.get("isError") == Some(&Value::Bool(true))
}

impl ResultObject {
    /// Whether this is a tool result that reports a failure (`isError: true`).
    pub fn is_tool_error(&self) -> bool {
        match self {
            ResultObject::Built(map) => reports_tool_error(map),
            ResultObject::Serialized(serialized) => serialized.is_tool_error(),
        }
    }

    /// The result as JSON text with `members` added (a stateless-revision result's
    /// `resultType`, caching hints and `_meta`). A kept serialized result gets them spliced
    /// into its text, neither parsed nor checked again: both are JSON objects we serialized
    /// (kept results carry no `_meta` of their own). A built one with a `_meta` has the two
    /// merged, members winning.
    pub fn into_json_with(self, members: &Members) -> String {
        let built;
        let text: &str = match self {
            ResultObject::Built(mut map) if map.contains_key("_meta") => {
                for (key, value) in members.map.clone() {
                    match (map.get_mut(&key), value) {
                        (Some(Value::Object(ours)), Value::Object(theirs)) if key == "_meta" => {
                            ours.extend(theirs);
                        }
                        (_, value) => {
                            map.insert(key, value);
                        }
                    }
                }
                return serde_json::to_string(&map).expect("a JSON object serializes");
            }
            ResultObject::Built(map) => {
                built = serde_json::to_string(&map).expect("a JSON object serializes");
                &built
            }
            ResultObject::Serialized(ref serialized) => serialized.json(),
        };
        if members.inner.is_empty() {
            return text.to_string();
        }
        debug_assert!(text.starts_with('{') && text.ends_with('}'));
        let body = text[1..text.len() - 1].trim();
        let mut joined = String::with_capacity(text.len() + members.inner.len() + 1);
        joined.push('{');
        joined.push_str(body);
        if !body.is_empty() {
            joined.push(',');
        }
        joined.push_str(&members.inner);
        joined.push('}');
        joined
    }

    /// The result as a map (parsing it again if it was kept serialized).
    pub fn into_map(self) -> Map<String, Value> {
        match self {
            ResultObject::Built(map) => map,
            // Text we serialized from a map: it parses back to one.
            ResultObject::Serialized(serialized) => {
                serde_json::from_str(serialized.json()).expect("a serialized result object parses")
            }
        }
    }
}

impl From<Map<String, Value>> for ResultObject {
    fn from(map: Map<String, Value>) -> Self {
        ResultObject::Built(map)
    }
}

impl From<SerializedResult> for ResultObject {
    fn from(serialized: SerializedResult) -> Self {
        ResultObject::Serialized(serialized)
    }
}

/// Equal when they say the same: compared as JSON values, whichever form they are in.
impl PartialEq for ResultObject {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ResultObject::Built(a), ResultObject::Built(b)) => a == b,
            // Same text is the same value; different text may still be (keys in another order).
            (ResultObject::Serialized(a), ResultObject::Serialized(b)) if a.json() == b.json() => {
                true
            }
            _ => self.clone().into_map() == other.clone().into_map(),
        }
    }
}

impl Serialize for ResultObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultObject::Built(map) => map.serialize(serializer),
            ResultObject::Serialized(serialized) => {
                RawValue::serialize(&serialized.json, serializer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn members_are_added_to_built_and_kept_results_alike() {
        let added = Members::new(map(json!({"resultType": "complete", "_meta": {"b": 2}})));
        // (Kept results carry no `_meta` of their own: see `into_json_with`.)
        for result in [json!({"content": [], "isError": true}), json!({})] {
            let built = ResultObject::Built(map(result.clone())).into_json_with(&added);
            let kept = ResultObject::Serialized(SerializedResult::of(&map(result.clone())));
            let kept = kept.into_json_with(&added);
            let (built, kept): (Value, Value) = (
                serde_json::from_str(&built).unwrap(),
                serde_json::from_str(&kept).unwrap(),
            );
            assert_eq!(built, kept, "{result}");
            assert_eq!(kept["resultType"], "complete", "{kept}");
            assert_eq!(kept["_meta"]["b"], 2, "{kept}");
        }
        let merged = ResultObject::Built(map(json!({"_meta": {"a": 1}}))).into_json_with(&added);
        let merged: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(merged["_meta"], json!({"a": 1, "b": 2}));
    }
}

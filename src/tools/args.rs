//! Reading tool arguments against the declared schema, with errors that name the argument and
//! what is allowed, so the model can correct the call.
//!
//! Per MCP 2025-11-25, a bad argument value is a tool result with `isError: true`, not a
//! protocol error: [`ArgError`] becomes exactly that.

use std::{collections::HashSet, ops::RangeInclusive};

use serde_json::{Map, Value};

use crate::github::api::RepoRef;

/// A wrong argument, as a sentence.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ArgError(pub String);

/// A tool's arguments, read one by one.
#[derive(Debug)]
pub struct Args {
    map: Map<String, Value>,
}

impl Args {
    /// Refuses arguments the schema does not declare (`additionalProperties: false`).
    pub fn new(map: Map<String, Value>, schema: &Value) -> Result<Args, ArgError> {
        let declared = schema["properties"].as_object();
        let unknown: Vec<&str> = map
            .keys()
            .filter(|key| !declared.is_some_and(|props| props.contains_key(*key)))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let allowed: Vec<&str> = declared
                .map(|props| props.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(ArgError(format!(
                "unknown argument {}; this tool takes {}",
                unknown.join(", "),
                allowed.join(", ")
            )));
        }
        Ok(Args { map })
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    pub fn string(&self, name: &str) -> Result<String, ArgError> {
        self.optional_string(name)?
            .ok_or_else(|| ArgError(format!("missing required argument `{name}` (a string)")))
    }

    pub fn optional_string(&self, name: &str) -> Result<Option<String>, ArgError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(ArgError(format!(
                "argument `{name}` must be a string, got {other}"
            ))),
        }
    }

    /// A string of `chars` characters (after trimming).
    pub fn string_within(
        &self,
        name: &str,
        chars: RangeInclusive<usize>,
    ) -> Result<String, ArgError> {
        let text = self.string(name)?.trim().to_string();
        if !chars.contains(&text.chars().count()) {
            return Err(ArgError(format!(
                "argument `{name}` must be {} to {} characters long, got {}",
                chars.start(),
                chars.end(),
                text.chars().count()
            )));
        }
        Ok(text)
    }

    /// A whole number in `range`, or `default` when absent.
    pub fn integer(
        &self,
        name: &str,
        range: RangeInclusive<u64>,
        default: Option<u64>,
    ) -> Result<u64, ArgError> {
        let Some(value) = self.get(name) else {
            return default.ok_or_else(|| {
                ArgError(format!(
                    "missing required argument `{name}` (a whole number from {} to {})",
                    range.start(),
                    range.end()
                ))
            });
        };
        // Some clients send numbers as strings (the Inspector CLI's --tool-arg does).
        let number = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        match number {
            Some(n) if range.contains(&n) => Ok(n),
            _ => Err(ArgError(format!(
                "argument `{name}` must be a whole number from {} to {}, got {value}",
                range.start(),
                range.end()
            ))),
        }
    }

    /// One of `allowed`, or `default` when absent.
    pub fn choice(
        &self,
        name: &str,
        allowed: &[&str],
        default: Option<&str>,
    ) -> Result<String, ArgError> {
        match (self.optional_string(name)?, default) {
            (Some(value), _) if allowed.contains(&value.as_str()) => Ok(value),
            (None, Some(default)) => Ok(default.to_string()),
            (value, _) => Err(ArgError(format!(
                "argument `{name}` must be one of {}, got {}",
                allowed.join(", "),
                value.map_or("nothing".to_string(), |v| format!("{v:?}"))
            ))),
        }
    }

    /// A list of distinct non-empty strings, `count` of them, or `None` when absent.
    pub fn string_list(
        &self,
        name: &str,
        count: RangeInclusive<usize>,
    ) -> Result<Option<Vec<String>>, ArgError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let wrong = || {
            ArgError(format!(
                "argument `{name}` must be a list of {} to {} distinct, non-empty strings",
                count.start(),
                count.end()
            ))
        };
        let items = value.as_array().ok_or_else(wrong)?;
        let strings: Vec<String> = items
            .iter()
            .map(|item| item.as_str().map(|s| s.trim().to_string()))
            .collect::<Option<_>>()
            .ok_or_else(wrong)?;
        let distinct: HashSet<&String> = strings.iter().collect();
        if !count.contains(&strings.len())
            || distinct.len() != strings.len()
            || strings.iter().any(String::is_empty)
        {
            return Err(wrong());
        }
        Ok(Some(strings))
    }

    /// A list of distinct issue numbers, `count` of them.
    pub fn number_list(
        &self,
        name: &str,
        count: RangeInclusive<usize>,
    ) -> Result<Vec<u64>, ArgError> {
        let wrong = || {
            ArgError(format!(
                "argument `{name}` must be a list of {} to {} distinct issue numbers (whole numbers from 1)",
                count.start(),
                count.end()
            ))
        };
        let items = self.get(name).and_then(Value::as_array).ok_or_else(wrong)?;
        let numbers: Vec<u64> = items
            .iter()
            .map(|item| item.as_u64().filter(|n| *n >= 1))
            .collect::<Option<_>>()
            .ok_or_else(wrong)?;
        let distinct: HashSet<u64> = numbers.iter().copied().collect();
        if !count.contains(&numbers.len()) || distinct.len() != numbers.len() {
            return Err(wrong());
        }
        Ok(numbers)
    }

    /// `owner` and `repo`, checked.
    pub fn repo(&self) -> Result<RepoRef, ArgError> {
        RepoRef::new(&self.string("owner")?, &self.string("repo")?).map_err(ArgError)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(value: Value) -> Result<Args, ArgError> {
        let schema = json!({"properties": {"state": {}, "limit": {}, "labels": {}, "owner": {}, "repo": {}}});
        Args::new(value.as_object().unwrap().clone(), &schema)
    }

    #[test]
    fn unknown_arguments_name_the_allowed_ones() {
        let err = args(json!({"stat": "open"})).unwrap_err();
        assert_eq!(
            err.0,
            "unknown argument stat; this tool takes labels, limit, owner, repo, state"
        );
    }

    #[test]
    fn choices_and_bounds_name_the_allowed_values() {
        let a = args(json!({"state": "opened", "limit": 101})).unwrap();
        assert_eq!(
            a.choice("state", &["open", "closed", "all"], Some("open"))
                .unwrap_err()
                .0,
            "argument `state` must be one of open, closed, all, got \"opened\""
        );
        assert_eq!(
            a.integer("limit", 1..=100, Some(20)).unwrap_err().0,
            "argument `limit` must be a whole number from 1 to 100, got 101"
        );
        let defaults = args(json!({})).unwrap();
        assert_eq!(defaults.integer("limit", 1..=100, Some(20)), Ok(20));
        assert_eq!(
            defaults.choice("state", &["open"], Some("open")).unwrap(),
            "open"
        );
    }

    #[test]
    fn lists_must_be_distinct_and_within_bounds() {
        let a = args(json!({"labels": ["bug", "bug"]})).unwrap();
        assert!(a.string_list("labels", 1..=10).is_err());
        let a = args(json!({"labels": ["bug", "ui"]})).unwrap();
        assert_eq!(
            a.string_list("labels", 1..=10).unwrap().unwrap(),
            ["bug", "ui"]
        );
    }

    #[test]
    fn numbers_may_come_as_strings() {
        let a = args(json!({"limit": "5"})).unwrap();
        assert_eq!(a.integer("limit", 1..=100, None), Ok(5));
    }
}

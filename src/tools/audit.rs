//! The audit line of a write tool call (log target `audit`): who, which tool, which
//! repository and issue, and the outcome. [`GitHubTool`](super::github_tool::GitHubTool)
//! writes one for every write call it accepted and GitHub may have acted on, once the call has
//! ended.
//!
//! The line is for operators and log pipelines, so it must stay one short line whatever a
//! caller sends: only calls whose arguments were accepted are logged (a refused call, such
//! as one with a 4 MB `owner`, writes nothing), the repository is the validated one, and
//! every field is cut at [`FIELD_MAX`] characters with a marker and escaped to printable
//! ASCII. Escaping here, rather than in the log format, keeps the line whole in both formats:
//! the JSON format (serde_json) leaves U+2028, U+2029 and U+0085 raw, and readers that split
//! lines on them would cut the line in two.
//!
//! Calls GitHub cannot have acted on write no line either ([`not_acted_on`]): the gateway refuses
//! them at once, without sending, while the token's budget is spent, a secondary limit or a
//! rejected token is held, or the caller's queue is full, so a client could otherwise write
//! lines at request rate. They change nothing; the gateway counts them
//! (`github_refused_total`) and logs the limit or rejection that causes them once.

use std::fmt::Write;

use serde_json::Value;

use crate::{
    github::{api::RepoRef, error::GitHubError},
    mcp::protocol::ProtocolVersion,
};

/// The characters a field keeps before it is cut; a validated repository name is at most
/// 140, a principal id far less.
pub const FIELD_MAX: usize = 160;
/// Issue numbers an audit line names at most (`batch_label_issues` takes up to 25).
const NUMBERS_MAX: usize = 30;

/// `text` as printable ASCII, in double quotes: `"` and `\` escaped, every other character
/// outside ` `..`~` written `\u{…}`; cut after [`FIELD_MAX`] characters with `...(cut)`.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(FIELD_MAX) + 2);
    out.push('"');
    for (n, c) in text.chars().enumerate() {
        if n == FIELD_MAX {
            out.push_str("\"...(cut)");
            return out;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            // Writing to a String cannot fail.
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// The issue number or numbers of a call's arguments: `7`, `[3,4]`, or `-` for none. Only
/// numbers are written (a call that passed validation has nothing else there), and at most
/// [`NUMBERS_MAX`] of them.
pub fn issues(value: Option<&Value>) -> String {
    fn number(value: &Value) -> String {
        value
            .as_u64()
            .map_or_else(|| "?".to_string(), |n| n.to_string())
    }
    match value {
        None => "-".into(),
        Some(Value::Array(items)) => {
            let mut shown: Vec<String> = items.iter().take(NUMBERS_MAX).map(number).collect();
            if items.len() > NUMBERS_MAX {
                shown.push("...(cut)".into());
            }
            format!("[{}]", shown.join(","))
        }
        Some(other) => number(other),
    }
}

/// Whether a call that failed with `error` cannot have changed anything on GitHub, so that its
/// audit line is left out. These are the errors the gateway gives without sending (the caller
/// went, the queue is full, a foreign URL, and a held rate limit or rejected token), and the
/// same limits and rejection when GitHub itself answers them: GitHub acts on no request it
/// answers so, and each such answer makes the gateway hold the next calls itself, so only
/// one call per hold could reach GitHub. (The variants do not say which of the two gave
/// them; this rule needs neither.)
pub fn not_acted_on(error: &GitHubError) -> bool {
    matches!(
        error,
        GitHubError::Abandoned
            | GitHubError::Busy { .. }
            | GitHubError::ForeignUrl { .. }
            | GitHubError::RateLimited { .. }
            | GitHubError::SecondaryRateLimited { .. }
            | GitHubError::Unauthorized { .. }
    )
}

/// How the call came: `session` (a handshake-era session) or `stateless` (revision
/// 2026-07-28, no session).
pub fn era(version: ProtocolVersion) -> &'static str {
    match version.is_modern() {
        true => "stateless",
        false => "session",
    }
}

/// The whole line, without the outcome.
pub fn line(
    principal: &str,
    era: &str,
    tool: &str,
    repo: Option<&RepoRef>,
    issues: &str,
) -> String {
    let repository = repo.map_or_else(|| "-".to_string(), ToString::to_string);
    format!(
        "principal={} era={era} tool={} repository={} issue={issues}",
        quoted(principal),
        quoted(tool).trim_matches('"'),
        quoted(&repository),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_printable_ascii_and_bounded() {
        assert_eq!(quoted("key:1a2b"), "\"key:1a2b\"");
        assert_eq!(
            quoted("a\u{2028}b\u{2029}c\u{85}d\ne\"f\\"),
            "\"a\\u{2028}b\\u{2029}c\\u{85}d\\u{a}e\\\"f\\\\\""
        );
        let long = quoted(&"x".repeat(4_000_000));
        assert_eq!(long.len(), FIELD_MAX + "\"\"...(cut)".len(), "{long}");
        assert!(long.ends_with("\"...(cut)"));
        let cut_escapes = quoted(&"\u{2028}".repeat(1000));
        assert!(cut_escapes.len() < FIELD_MAX * 9, "{}", cut_escapes.len());
    }

    #[test]
    fn issues_are_numbers_only() {
        assert_eq!(issues(None), "-");
        assert_eq!(issues(Some(&json!(7))), "7");
        assert_eq!(issues(Some(&json!([3, 4]))), "[3,4]");
        assert_eq!(issues(Some(&json!("7\u{2028}x"))), "?");
        let many: Vec<u64> = (1..=100).collect();
        let shown = issues(Some(&json!(many)));
        assert!(shown.ends_with(",30,...(cut)]"), "{shown}");
    }

    #[test]
    fn the_era_says_whether_a_session_made_the_call() {
        assert_eq!(era(ProtocolVersion::V2025_11_25), "session");
        assert_eq!(era(ProtocolVersion::V2026_07_28), "stateless");
    }

    #[test]
    fn a_line_names_the_validated_repository() {
        let repo = RepoRef::new("octo", "hello").unwrap();
        assert_eq!(
            line("anonymous", "session", "create_issue", Some(&repo), "-"),
            "principal=\"anonymous\" era=session tool=create_issue repository=\"octo/hello\" issue=-"
        );
    }
}

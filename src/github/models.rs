//! The parts of GitHub's issue, comment and search objects that this server shows.
//!
//! Lenient by design: fields GitHub may omit or null are optional or defaulted, and unknown
//! fields are ignored, so a new GitHub field never breaks a tool.

use std::fmt;

use serde::{
    Deserialize, Deserializer, Serialize,
    de::{self, MapAccess, Visitor},
};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct User {
    pub login: String,
}

/// In issue objects GitHub gives labels as objects; its schema also allows bare strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Full { name: String },
    Name(String),
}

impl Label {
    pub fn name(&self) -> &str {
        match self {
            Label::Full { name } | Label::Name(name) => name,
        }
    }
}

/// By hand rather than `#[serde(untagged)]`, which buffers every label object into an
/// intermediate tree before trying each form: labels are in every issue of every list.
impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelVisitor;

        impl<'de> Visitor<'de> for LabelVisitor {
            type Value = Label;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a label object with a name, or a label name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Label, E> {
                Ok(Label::Name(name.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Label, A::Error> {
                let mut name = None;
                while let Some(key) = map.next_key::<LabelKey>()? {
                    if key.0 {
                        name = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
                Ok(Label::Full { name })
            }
        }

        deserializer.deserialize_any(LabelVisitor)
    }
}

/// A key of a label object: whether it is `name` (read without allocating).
struct LabelKey(bool);

impl<'de> Deserialize<'de> for LabelKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = LabelKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<LabelKey, E> {
                Ok(LabelKey(key == "name"))
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub state: String,
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub assignees: Vec<User>,
    #[serde(default)]
    pub comments: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub closed_at: Option<String>,
    pub html_url: String,
    /// `https://api.github.com/repos/{owner}/{repo}`: search results name their repository here.
    #[serde(default)]
    pub repository_url: Option<String>,
    /// Present only on pull requests, which GitHub's issue lists mix in. Only its presence
    /// matters: skipped unread rather than built into a tree.
    #[serde(default)]
    pull_request: Option<de::IgnoredAny>,
}

impl Issue {
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some()
    }

    /// `owner/repo`, from `repository_url`.
    pub fn repository(&self) -> Option<String> {
        let url = self.repository_url.as_deref()?;
        let mut parts = url.rsplit('/');
        let repo = parts.next()?;
        let owner = parts.next()?;
        Some(format!("{owner}/{repo}"))
    }

    pub fn author(&self) -> &str {
        self.user.as_ref().map_or("(unknown)", |user| &user.login)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    pub created_at: String,
    #[serde(default)]
    pub html_url: Option<String>,
}

impl Comment {
    pub fn author(&self) -> &str {
        self.user.as_ref().map_or("(unknown)", |user| &user.login)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SearchResults {
    pub total_count: u64,
    #[serde(default)]
    pub incomplete_results: bool,
    pub items: Vec<Issue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_search_item_and_its_repository() {
        let item = serde_json::json!({
            "number": 1, "title": "t", "state": "open", "comments": 2,
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
            "html_url": "https://github.com/o/r/issues/1",
            "repository_url": "https://api.github.com/repos/octo-org/hello",
            "labels": [{"id": 1, "name": "bug", "color": "f00"}, "plain"],
            "user": null, "body": null, "score": 1.0
        });
        let issue: Issue = serde_json::from_value(item).unwrap();
        assert_eq!(issue.repository().as_deref(), Some("octo-org/hello"));
        let names: Vec<&str> = issue.labels.iter().map(Label::name).collect();
        assert_eq!(names, ["bug", "plain"]);
        assert_eq!(issue.author(), "(unknown)");
        assert!(!issue.is_pull_request());
    }

    #[test]
    fn pull_requests_are_told_by_their_marker_alone() {
        let item = |marker: &str| {
            let text = format!(
                r#"{{"number": 1, "title": "t", "state": "open", "created_at": "c",
                    "updated_at": "u", "html_url": "h"{marker}}}"#
            );
            serde_json::from_str::<Issue>(&text).unwrap()
        };
        assert!(item(r#", "pull_request": {"url": "x", "merged_at": null}"#).is_pull_request());
        assert!(!item(r#", "pull_request": null"#).is_pull_request());
        assert!(!item("").is_pull_request());
    }

    #[test]
    fn labels_decode_from_text_as_objects_or_names() {
        let labels: Vec<Label> =
            serde_json::from_str(r#"[{"id": 1, "na\u006de": "bug", "default": true}, "plain"]"#)
                .unwrap();
        let names: Vec<&str> = labels.iter().map(Label::name).collect();
        assert_eq!(names, ["bug", "plain"]);
        let nameless = serde_json::from_str::<Label>(r#"{"color": "f00"}"#).unwrap_err();
        assert!(
            nameless.to_string().contains("missing field `name`"),
            "{nameless}"
        );
    }
}

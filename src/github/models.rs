//! The parts of GitHub's issue, comment and search objects that this server shows.
//!
//! Lenient by design: fields GitHub may omit or null are optional or defaulted, and unknown
//! fields are ignored, so a new GitHub field never breaks a tool. Issues, the most read of
//! them, are decoded by hand into one text buffer per answer ([`issues`]).

mod issues;
mod text;

use serde::{Deserialize, Deserializer, Serialize, de::DeserializeSeed};

pub use issues::{Issue, IssueRef, Issues};
use text::NameKind;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct User {
    pub login: String,
}

/// A label, by its name. GitHub gives labels as objects; its schema also allows bare names.
#[derive(Debug, Clone, PartialEq)]
pub struct Label(String);

impl Label {
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// The two forms the issue decoder reads too, through its seed, into a buffer of its own.
impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut name = String::new();
        NameKind::LABEL.of(&mut name).deserialize(deserializer)?;
        Ok(Label(name))
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
    pub items: Issues,
}

#[cfg(test)]
mod tests {
    use super::*;

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

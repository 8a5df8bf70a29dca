//! The parts of GitHub's issue, comment and search objects that this server shows.
//!
//! Lenient by design: fields GitHub may omit or null are optional or defaulted, and unknown
//! fields are ignored, so a new GitHub field never breaks a tool. Issues, the most read of
//! them, are decoded by hand into one text buffer per answer ([`issues`]).

mod issues;
mod text;

use std::fmt;

use serde::{
    Deserialize, Deserializer, Serialize,
    de::{self, MapAccess, Visitor},
};

pub use issues::{Issue, IssueRef, Issues};
use text::KeyIs;

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
                while let Some(is_name) = map.next_key_seed(KeyIs("name"))? {
                    if is_name {
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

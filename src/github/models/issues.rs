//! Issues as GitHub sends them in lists, search results and single answers, decoded so that
//! all the text of one answer lives in one buffer.
//!
//! An uncached `list_issues` spent two fifths of its CPU time decoding GitHub's page (about
//! 4 KB of JSON per issue, of which a list shows a twentieth) and later freeing it: a dozen small
//! strings per issue, allocated on the worker that decoded the page and freed on the
//! gateway's thread when a newer answer replaced it in the cache. Here every string a list
//! shows is appended to one [`String`] per answer and an issue is a record of byte ranges
//! into it, so a page of any length is a handful of allocations. Lists skip bodies (the
//! largest strings, shown by no list); a single issue ([`Issue`]) keeps its body, state
//! reason and closing date beside what a list shows.
//!
//! Lenient like the other models: unknown fields are skipped, optional ones may be missing
//! or null, and a label may be an object or a bare name.

use std::{fmt, ops::Range};

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use super::text::{NameKind, NamesSeed, Nullable, Span, Text, TextSeed};

/// What a list shows of one issue: its numbers, and where its strings are in the [`Text`].
#[derive(Debug, Clone)]
struct Record {
    number: u64,
    comments: u64,
    title: Span,
    state: Span,
    author: Option<Span>,
    created_at: Span,
    updated_at: Span,
    html_url: Span,
    repository_url: Option<Span>,
    labels: Range<u32>,
    assignees: Range<u32>,
    pull_request: bool,
}

/// A list of issues (a page, or search results), without their bodies.
#[derive(Clone, Default)]
pub struct Issues {
    text: Text,
    records: Vec<Record>,
}

impl Issues {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = IssueRef<'_>> + '_ {
        self.records.iter().map(|record| IssueRef {
            text: &self.text,
            record,
        })
    }
}

impl fmt::Debug for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One issue in full: what a list shows, and its body, state reason and closing date.
#[derive(Debug, Clone)]
pub struct Issue {
    text: Text,
    record: Record,
    pub body: Option<String>,
    pub state_reason: Option<String>,
    pub closed_at: Option<String>,
}

impl Issue {
    /// What a list would show of this issue.
    pub fn summary(&self) -> IssueRef<'_> {
        IssueRef {
            text: &self.text,
            record: &self.record,
        }
    }
}

/// One issue of an [`Issues`] (or an [`Issue`]'s summary), borrowed.
#[derive(Clone, Copy)]
pub struct IssueRef<'a> {
    text: &'a Text,
    record: &'a Record,
}

impl<'a> IssueRef<'a> {
    pub fn number(self) -> u64 {
        self.record.number
    }

    pub fn title(self) -> &'a str {
        self.text.get(self.record.title)
    }

    pub fn state(self) -> &'a str {
        self.text.get(self.record.state)
    }

    /// The author's login; `(unknown)` when GitHub gives none (a deleted account).
    pub fn author(self) -> &'a str {
        self.record
            .author
            .map_or("(unknown)", |span| self.text.get(span))
    }

    pub fn labels(self) -> impl Iterator<Item = &'a str> {
        self.text.names(&self.record.labels)
    }

    pub fn assignees(self) -> impl Iterator<Item = &'a str> {
        self.text.names(&self.record.assignees)
    }

    pub fn comments(self) -> u64 {
        self.record.comments
    }

    pub fn created_at(self) -> &'a str {
        self.text.get(self.record.created_at)
    }

    pub fn updated_at(self) -> &'a str {
        self.text.get(self.record.updated_at)
    }

    pub fn html_url(self) -> &'a str {
        self.text.get(self.record.html_url)
    }

    /// GitHub's issue lists mix in pull requests, marked by a `pull_request` object.
    pub fn is_pull_request(self) -> bool {
        self.record.pull_request
    }

    /// `owner/repo`, from `repository_url` (`https://api.github.com/repos/{owner}/{repo}`):
    /// search results name their repository there.
    pub fn repository(self) -> Option<String> {
        let url = self.text.get(self.record.repository_url?);
        let mut parts = url.rsplit('/');
        let repo = parts.next()?;
        let owner = parts.next()?;
        Some(format!("{owner}/{repo}"))
    }
}

impl fmt::Debug for IssueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issue")
            .field("number", &self.number())
            .field("title", &self.title())
            .field("state", &self.state())
            .field("author", &self.author())
            .field("pull_request", &self.is_pull_request())
            .finish_non_exhaustive()
    }
}

impl<'de> Deserialize<'de> for Issues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;

        impl<'de> Visitor<'de> for ListVisitor {
            type Value = Issues;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of issue objects")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Issues, A::Error> {
                let mut issues = Issues {
                    // About 200 bytes of shown text per issue; a page of 30 doubles it once.
                    text: Text {
                        buf: String::with_capacity(4096),
                        names: Vec::with_capacity(64),
                    },
                    records: Vec::with_capacity(seq.size_hint().unwrap_or(30).min(100)),
                };
                while let Some(record) = seq.next_element_seed(RecordSeed {
                    text: &mut issues.text,
                    extras: None,
                })? {
                    issues.records.push(record);
                }
                // Pages stay in the cache: keep no more than they hold.
                issues.text.buf.shrink_to_fit();
                issues.text.names.shrink_to_fit();
                issues.records.shrink_to_fit();
                Ok(issues)
            }
        }

        deserializer.deserialize_seq(ListVisitor)
    }
}

impl<'de> Deserialize<'de> for Issue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut text = Text::default();
        let mut extras = Extras::default();
        let record = RecordSeed {
            text: &mut text,
            extras: Some(&mut extras),
        }
        .deserialize(deserializer)?;
        Ok(Issue {
            text,
            record,
            body: extras.body,
            state_reason: extras.state_reason,
            closed_at: extras.closed_at,
        })
    }
}

/// What only a single issue keeps.
#[derive(Default)]
struct Extras {
    body: Option<String>,
    state_reason: Option<String>,
    closed_at: Option<String>,
}

/// Decodes one issue object into `text`, and its extras when given somewhere to put them.
struct RecordSeed<'t> {
    text: &'t mut Text,
    extras: Option<&'t mut Extras>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Record, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an issue object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let RecordSeed { text, mut extras } = self;
        let Text { buf, names } = text;
        let (mut number, mut title, mut state, mut created_at, mut updated_at, mut html_url) =
            (None, None, None, None, None, None);
        let (mut author, mut repository_url, mut comments, mut pull_request) =
            (None, None, 0, false);
        let (mut labels, mut assignees) = (0..0, 0..0);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Number => number = Some(map.next_value()?),
                Field::Title => title = Some(map.next_value_seed(TextSeed(buf))?),
                Field::State => state = Some(map.next_value_seed(TextSeed(buf))?),
                Field::CreatedAt => created_at = Some(map.next_value_seed(TextSeed(buf))?),
                Field::UpdatedAt => updated_at = Some(map.next_value_seed(TextSeed(buf))?),
                Field::HtmlUrl => html_url = Some(map.next_value_seed(TextSeed(buf))?),
                Field::RepositoryUrl => {
                    repository_url = map.next_value_seed(Nullable(TextSeed(buf)))?;
                }
                Field::User => author = map.next_value_seed(Nullable(NameKind::LOGIN.of(buf)))?,
                Field::Labels => {
                    let seed = NamesSeed(NameKind::LABEL.of(buf), names);
                    labels = map.next_value_seed(seed)?;
                }
                Field::Assignees => {
                    let seed = NamesSeed(NameKind::LOGIN.of(buf), names);
                    assignees = map.next_value_seed(seed)?;
                }
                Field::Comments => comments = map.next_value::<Option<u64>>()?.unwrap_or(0),
                Field::PullRequest => {
                    pull_request = map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                Field::Body | Field::StateReason | Field::ClosedAt => match extras.as_deref_mut() {
                    Some(extras) => {
                        let slot = match field {
                            Field::Body => &mut extras.body,
                            Field::StateReason => &mut extras.state_reason,
                            _ => &mut extras.closed_at,
                        };
                        *slot = map.next_value()?;
                    }
                    // A list shows no body: skipped unread.
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Record {
            number: number.ok_or_else(|| de::Error::missing_field("number"))?,
            comments,
            title: required(title, "title")?,
            state: required(state, "state")?,
            author,
            created_at: required(created_at, "created_at")?,
            updated_at: required(updated_at, "updated_at")?,
            html_url: required(html_url, "html_url")?,
            repository_url,
            labels,
            assignees,
            pull_request,
        })
    }
}

fn required<E: de::Error>(span: Option<Span>, name: &'static str) -> Result<Span, E> {
    span.ok_or_else(|| E::missing_field(name))
}

/// The fields of an issue object that anything here keeps.
enum Field {
    Number,
    Title,
    State,
    CreatedAt,
    UpdatedAt,
    HtmlUrl,
    RepositoryUrl,
    User,
    Labels,
    Assignees,
    Comments,
    PullRequest,
    Body,
    StateReason,
    ClosedAt,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;

        impl Visitor<'_> for FieldVisitor {
            type Value = Field;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    "number" => Field::Number,
                    "title" => Field::Title,
                    "state" => Field::State,
                    "created_at" => Field::CreatedAt,
                    "updated_at" => Field::UpdatedAt,
                    "html_url" => Field::HtmlUrl,
                    "repository_url" => Field::RepositoryUrl,
                    "user" => Field::User,
                    "labels" => Field::Labels,
                    "assignees" => Field::Assignees,
                    "comments" => Field::Comments,
                    "pull_request" => Field::PullRequest,
                    "body" => Field::Body,
                    "state_reason" => Field::StateReason,
                    "closed_at" => Field::ClosedAt,
                    _ => Field::Other,
                })
            }
        }

        deserializer.deserialize_identifier(FieldVisitor)
    }
}

#[cfg(test)]
mod tests;

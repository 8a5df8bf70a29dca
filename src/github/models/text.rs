//! The strings of one GitHub answer in one buffer, and the serde seeds that append to it:
//! how [`super::issues`] decodes a page without an allocation per string (and how a lone
//! [`super::Label`] reads its two forms).
//!
//! A seed appends what it decodes to the buffer and returns where it is ([`Span`]); escaped
//! strings, which serde_json hands over already unescaped, go in the same way.

use std::{fmt, ops::Range};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A byte range of a [`Text`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    start: u32,
    end: u32,
}

/// The strings of one answer, back to back, and the label and assignee names among them.
#[derive(Debug, Clone, Default)]
pub(super) struct Text {
    pub buf: String,
    /// The label names and assignee logins of every issue, each list a range of `names` (in
    /// the order their keys came; a key given twice leaves its first list unused).
    pub names: Vec<Span>,
}

impl Text {
    pub fn get(&self, span: Span) -> &str {
        // Spans are made only by `push`, around whole strings: always on char boundaries.
        &self.buf[span.start as usize..span.end as usize]
    }

    pub fn names(&self, range: &Range<u32>) -> impl Iterator<Item = &str> {
        self.names[range.start as usize..range.end as usize]
            .iter()
            .map(|span| self.get(*span))
    }
}

pub(super) fn push<E: de::Error>(buf: &mut String, s: &str) -> Result<Span, E> {
    let start = buf.len();
    buf.push_str(s);
    match (u32::try_from(start), u32::try_from(buf.len())) {
        (Ok(start), Ok(end)) => Ok(Span { start, end }),
        _ => Err(E::custom("GitHub's answer holds more than 4 GiB of text")),
    }
}

/// A string, appended to the buffer: its span.
pub(super) struct TextSeed<'b>(pub &'b mut String);

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = Span;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Span, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for TextSeed<'_> {
    type Value = Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Span, E> {
        push(self.0, s)
    }
}

/// `null` as `None`, anything else through the inner seed.
pub(super) struct Nullable<S>(pub S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null or a value")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// The name of a label or user: the object's `key` (or, where `bare` allows it, a string
/// that is the name itself), appended to the buffer.
#[derive(Clone, Copy)]
pub(super) struct NameKind {
    key: &'static str,
    bare: bool,
    expecting: &'static str,
    /// The same, for a list of them.
    expecting_list: &'static str,
}

pub(super) struct NameSeed<'b> {
    kind: NameKind,
    buf: &'b mut String,
}

impl NameKind {
    /// Users: objects with a `login`.
    pub const LOGIN: NameKind = NameKind {
        key: "login",
        bare: false,
        expecting: "a user object with a login",
        expecting_list: "a list of user objects with logins",
    };
    /// In issue objects GitHub gives labels as objects; its schema also allows bare names.
    pub const LABEL: NameKind = NameKind {
        key: "name",
        bare: true,
        expecting: "a label object with a name, or a label name",
        expecting_list: "a list of label objects with names, or of label names",
    };

    pub fn of(self, buf: &mut String) -> NameSeed<'_> {
        NameSeed { kind: self, buf }
    }
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = Span;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Span, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NameSeed<'_> {
    type Value = Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.expecting)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Span, E> {
        if self.kind.bare {
            push(self.buf, s)
        } else {
            Err(E::invalid_type(de::Unexpected::Str(s), &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Span, A::Error> {
        let mut name = None;
        while let Some(is_name) = map.next_key_seed(KeyIs(self.kind.key))? {
            if is_name {
                name = Some(map.next_value_seed(TextSeed(self.buf))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        name.ok_or_else(|| de::Error::missing_field(self.kind.key))
    }
}

/// A list of names (or `null`, as none), appended to the names: their range there.
pub(super) struct NamesSeed<'b>(pub NameSeed<'b>, pub &'b mut Vec<Span>);

impl<'de> DeserializeSeed<'de> for NamesSeed<'_> {
    type Value = Range<u32>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for NamesSeed<'_> {
    type Value = Range<u32>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.kind.expecting_list)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(0..0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(0..0)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let NamesSeed(NameSeed { kind, buf }, names) = self;
        let start = names.len();
        while let Some(span) = seq.next_element_seed(kind.of(buf))? {
            names.push(span);
        }
        match (u32::try_from(start), u32::try_from(names.len())) {
            (Ok(start), Ok(end)) => Ok(start..end),
            _ => Err(de::Error::custom("GitHub's answer holds too many names")),
        }
    }
}

/// An object key: whether it is the one looked for (read without allocating).
struct KeyIs(&'static str);

impl<'de> DeserializeSeed<'de> for KeyIs {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeyIs {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

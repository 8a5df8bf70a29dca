//! MCP payload types that the dispatcher needs: the request methods ([`Method`], the one table
//! the dispatcher and the metrics share), protocol revisions, log levels, the initialize
//! exchange, and cursor pagination for the `*/list` methods.
//!
//! The negotiated [`ProtocolVersion`] drives feature gating: fields that only later revisions
//! define (`title`, `structuredContent`, `outputSchema`, audio, resource links) are sent only to
//! sessions whose version has them, through the `has_*` methods here.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jsonrpc::ErrorObject;

/// The MCP revisions this server speaks, oldest first, so that `Ord` follows the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    /// The stateless revision: no handshake, each request names its revision (`_meta`).
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every revision `initialize` negotiates, newest first (the order clients see in error
    /// data). The stateless revision is not among them: it has no handshake.
    pub const SUPPORTED: [ProtocolVersion; 4] = [
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2024_11_05,
    ];

    /// The stateless revisions, served on `/mcp` to requests that name one in `_meta`.
    pub const MODERN: [ProtocolVersion; 1] = [ProtocolVersion::V2026_07_28];

    /// Every revision, oldest first: what per-revision caches are built for.
    pub const ALL: [ProtocolVersion; 5] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2026_07_28,
    ];

    /// The answer to a client that asks for a revision we do not know.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2025_11_25;

    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    /// Version negotiation in `initialize`: echo a supported handshake revision, otherwise
    /// answer our latest one.
    pub fn negotiate(requested: &str) -> ProtocolVersion {
        match requested.parse::<ProtocolVersion>() {
            Ok(version) if !version.is_modern() => version,
            _ => Self::LATEST,
        }
    }

    /// Whether this is a stateless revision (2026-07-28 and later).
    pub fn is_modern(self) -> bool {
        self >= ProtocolVersion::V2026_07_28
    }

    /// Whether a version string names a stateless revision, known or not: what the
    /// `MCP-Protocol-Version` header of a request without a body claim is read by. Revisions
    /// are dates, compared as strings, so a future one (or a `v999` probe) counts too.
    pub fn names_modern(text: &str) -> bool {
        text >= ProtocolVersion::V2026_07_28.as_str()
    }

    /// `title` on tools, resources, prompts and `Implementation` (2025-06-18+).
    pub fn has_titles(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }

    /// `structuredContent`, `outputSchema` and `resource_link` content (2025-06-18+).
    pub fn has_structured_content(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }

    /// Audio content, tool annotations, the `completions` capability (2025-03-26+).
    pub fn has_annotations(self) -> bool {
        self >= ProtocolVersion::V2025_03_26
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProtocolVersion {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
            .ok_or(())
    }
}

/// RFC 5424 severities, least severe first, as `logging/setLevel` and `notifications/message`
/// name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const ALL: &'static str = "debug, info, notice, warning, error, critical, alert, emergency";
}

/// The params of `initialize` that the server reads. Unknown members are kept out of the way.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    pub protocol_version: String,
    #[serde(default)]
    pub capabilities: ClientCapabilities,
    pub client_info: ClientInfo,
}

/// The client capabilities the server acts on: which requests it may send to the client. Only
/// their presence is read; what a client declares beyond (of any size) is not kept, so a
/// session holds a few bools for its life, and its requests copy them for free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    pub roots: bool,
    pub sampling: bool,
    pub elicitation: bool,
}

impl ClientCapabilities {
    /// Whether the client declared the capability named as in `initialize` (`"sampling"`).
    pub fn has(&self, name: &str) -> bool {
        match name {
            "roots" => self.roots,
            "sampling" => self.sampling,
            "elicitation" => self.elicitation,
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for ClientCapabilities {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = ClientCapabilities;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of capabilities")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ClientCapabilities, A::Error> {
                let mut declared = ClientCapabilities::default();
                while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    match name.as_ref() {
                        "roots" => declared.roots = true,
                        "sampling" => declared.sampling = true,
                        "elicitation" => declared.elicitation = true,
                        _ => {}
                    }
                }
                Ok(declared)
            }
        }
        deserializer.deserialize_map(Names)
    }
}

/// Longest `clientInfo` name or version kept (in bytes): they are only for display.
const CLIENT_INFO_MAX: usize = 256;

/// The client's `Implementation` object, each field cut to [`CLIENT_INFO_MAX`] bytes: it is
/// kept for the session's life.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawClientInfo")]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

#[derive(Deserialize)]
struct RawClientInfo {
    name: String,
    version: String,
}

impl From<RawClientInfo> for ClientInfo {
    fn from(raw: RawClientInfo) -> Self {
        ClientInfo {
            name: clip(raw.name),
            version: clip(raw.version),
        }
    }
}

fn clip(mut text: String) -> String {
    if text.len() > CLIENT_INFO_MAX {
        let mut end = CLIENT_INFO_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.shrink_to_fit();
    }
    text
}

/// Reads a method's params into `T`, or gives the -32602 error that names what is wrong.
pub fn parse_params<T: serde::de::DeserializeOwned>(
    method: &str,
    params: Option<Value>,
) -> Result<T, ErrorObject> {
    let params = params.unwrap_or_else(|| Value::Object(Map::new()));
    // The path names the argument at fault ("cursor: invalid type ..."); serde alone does not.
    serde_path_to_error::deserialize(params).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ErrorObject::invalid_params(format!("invalid params for {method}: {inner}"))
        } else {
            ErrorObject::invalid_params(format!("invalid params for {method}: {path}: {inner}"))
        }
    })
}

/// The params every `*/list` method takes.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub cursor: Option<String>,
}

/// One page of a list, cut from the full list at an opaque cursor.
///
/// Cursors are `"o<offset>"`: a client must treat them as opaque, and anything that is not one
/// we issued (or that points past the end) is rejected with -32602 rather than read as page one.
pub fn paginate<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    page_size: usize,
) -> Result<(Vec<T>, Option<String>), ErrorObject> {
    let start = match cursor {
        None => 0,
        Some(cursor) => cursor
            .strip_prefix('o')
            .and_then(|offset| offset.parse::<usize>().ok())
            .filter(|&offset| offset > 0 && offset < items.len())
            .ok_or_else(|| {
                ErrorObject::invalid_params(format!(
                    "invalid cursor {cursor:?}: pass the nextCursor of a previous page, or none"
                ))
            })?,
    };
    let end = (start + page_size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| format!("o{end}"));
    Ok((items[start..end].to_vec(), next))
}

/// Writes [`Method`] from one list, so that its variants, wire names and [`Method::ALL`] cannot
/// drift apart.
macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// The request methods this server answers, each name written once: the dispatcher
        /// (`crate::dispatch`) matches on it exhaustively, and the metrics (`crate::metrics`)
        /// label requests with [`Method::as_str`]. A name not here is `None` from
        /// [`Method::parse`]: -32601 on the wire and `other` in the metrics, so that clients
        /// cannot add labels (and memory) without bound.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Method {
            $($(#[$doc])* $variant,)*
        }

        impl Method {
            /// Every method, in the order above.
            pub const ALL: &[Method] = &[$(Method::$variant,)*];

            /// The method's name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }

            /// The method a request names, if this server has it.
            pub fn parse(name: &str) -> Option<Method> {
                match name {
                    $($name => Some(Method::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

methods! {
    Ping = "ping",
    Initialize = "initialize",
    LoggingSetLevel = "logging/setLevel",
    ToolsList = "tools/list",
    ToolsCall = "tools/call",
    ResourcesList = "resources/list",
    ResourcesTemplatesList = "resources/templates/list",
    ResourcesRead = "resources/read",
    ResourcesSubscribe = "resources/subscribe",
    ResourcesUnsubscribe = "resources/unsubscribe",
    PromptsList = "prompts/list",
    PromptsGet = "prompts/get",
    CompletionComplete = "completion/complete",
    /// Stateless revision only.
    ServerDiscover = "server/discover",
    /// Stateless revision only.
    SubscriptionsListen = "subscriptions/listen",
}

impl Method {
    /// Whether the stateless revision has this method: it dropped the handshake, `ping`,
    /// `logging/setLevel` and the subscribe pair.
    pub fn is_modern(self) -> bool {
        !matches!(
            self,
            Method::Ping
                | Method::Initialize
                | Method::LoggingSetLevel
                | Method::ResourcesSubscribe
                | Method::ResourcesUnsubscribe
        )
    }

    /// Whether the handshake revisions have this method.
    pub fn is_handshake(self) -> bool {
        !matches!(self, Method::ServerDiscover | Method::SubscriptionsListen)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::jsonrpc::ErrorCode;

    #[test]
    fn supported_versions_are_echoed_and_others_get_the_latest() {
        for (asked, answered) in [
            ("2024-11-05", "2024-11-05"),
            ("2025-03-26", "2025-03-26"),
            ("2025-06-18", "2025-06-18"),
            ("2025-11-25", "2025-11-25"),
            ("2024-10-07", "2025-11-25"),
            ("2026-07-28", "2025-11-25"),
            ("", "2025-11-25"),
            ("v999.0.0", "2025-11-25"),
        ] {
            assert_eq!(
                ProtocolVersion::negotiate(asked).as_str(),
                answered,
                "{asked}"
            );
        }
    }

    #[test]
    fn feature_gates_follow_the_revisions() {
        use ProtocolVersion::*;
        assert!(!V2024_11_05.has_annotations() && V2025_03_26.has_annotations());
        assert!(!V2025_03_26.has_titles() && V2025_06_18.has_titles());
        assert!(!V2025_03_26.has_structured_content() && V2025_11_25.has_structured_content());
    }

    #[test]
    fn modern_revisions_are_told_by_their_date() {
        assert!(ProtocolVersion::names_modern("2026-07-28"));
        assert!(ProtocolVersion::names_modern("v999.0.0"));
        assert!(ProtocolVersion::names_modern("2027-01-01"));
        assert!(!ProtocolVersion::names_modern("2025-11-25"));
        assert!(!ProtocolVersion::names_modern(""));
        assert_eq!("2026-07-28".parse(), Ok(ProtocolVersion::V2026_07_28));
        assert!(ProtocolVersion::V2026_07_28.is_modern() && !ProtocolVersion::LATEST.is_modern());
    }

    #[test]
    fn log_levels_are_ordered_by_severity() {
        let parsed: LogLevel = serde_json::from_str("\"warning\"").unwrap();
        assert!(parsed > LogLevel::Info && parsed < LogLevel::Error);
        assert!(serde_json::from_str::<LogLevel>("\"verbose\"").is_err());
    }

    #[test]
    fn params_errors_name_the_argument_at_fault() {
        let err = parse_params::<ListParams>("tools/list", Some(serde_json::json!({"cursor": 5})))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
        assert!(
            err.message
                .starts_with("invalid params for tools/list: cursor: invalid type"),
            "{}",
            err.message
        );
        let err = parse_params::<InitializeParams>("initialize", None).unwrap_err();
        assert!(
            err.message.contains("missing field `protocolVersion`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn every_method_parses_back_from_its_name_and_others_do_not() {
        for &method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
        assert_eq!(Method::ALL.len(), 15);
        for unknown in ["", "tools/frobnicate", "Ping", "tools/list "] {
            assert_eq!(Method::parse(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn pagination_walks_every_item_once() {
        let items: Vec<u32> = (0..7).collect();
        let (first, next) = paginate(&items, None, 3).unwrap();
        assert_eq!(first, vec![0, 1, 2]);
        let (second, next) = paginate(&items, next.as_deref(), 3).unwrap();
        assert_eq!(second, vec![3, 4, 5]);
        let (third, next) = paginate(&items, next.as_deref(), 3).unwrap();
        assert_eq!((third, next), (vec![6], None));
    }

    #[test]
    fn an_empty_list_is_one_empty_page() {
        let (page, next) = paginate::<u32>(&[], None, 3).unwrap();
        assert!(page.is_empty() && next.is_none());
    }

    #[test]
    fn foreign_or_stale_cursors_are_invalid_params() {
        let items: Vec<u32> = (0..4).collect();
        for cursor in ["", "abc", "o", "o0", "o4", "o99", "3", "o-1"] {
            let err = paginate(&items, Some(cursor), 2).unwrap_err();
            assert_eq!(err.code, ErrorCode::INVALID_PARAMS, "{cursor}");
            assert!(err.message.contains("cursor"));
        }
    }
}

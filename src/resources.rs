//! The resource registry: what `resources/list` and `resources/templates/list` show, and where
//! `resources/read` goes.
//!
//! Resources come from sources: each lists its concrete resources and templates and reads the
//! URIs it recognises. The `issue://` sources are added by the GitHub feature work (issue 3);
//! until then there are none, and a read of any URI is the spec's -32002 "resource not found".

use std::sync::Arc;

pub mod issues;

use serde_json::{Value, json};

use crate::{
    mcp::{
        jsonrpc::{ErrorCode, ErrorObject},
        protocol::ProtocolVersion,
    },
    tools::{CallContext, LocalFuture},
};

/// A concrete resource (`resources/list`) or a template (`resources/templates/list`).
#[derive(Debug, Clone)]
pub struct ResourceEntry {
    /// A URI for a resource, an RFC 6570 template for a template.
    pub uri: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub mime_type: String,
}

impl ResourceEntry {
    fn to_json(&self, uri_key: &str, version: ProtocolVersion) -> Value {
        let mut entry = json!({
            uri_key: self.uri,
            "name": self.name,
            "description": self.description,
            "mimeType": self.mime_type,
        });
        if version.has_titles() {
            entry["title"] = json!(self.title);
        }
        entry
    }
}

/// A source of resources.
pub trait ResourceSource: Send + Sync {
    fn resources(&self) -> Vec<ResourceEntry>;
    fn templates(&self) -> Vec<ResourceEntry>;
    /// `None` when this source does not own the URI; otherwise the `contents` array, or an error.
    fn read(
        &self,
        uri: &str,
        context: &CallContext,
    ) -> Option<LocalFuture<Result<Vec<Value>, ErrorObject>>>;

    /// Whether a URI names one of this source's resources, without reading it: `None` when the
    /// source does not own it, an error when it does but the URI is malformed or not allowed.
    /// The default answers by whether `read` takes it.
    fn check(&self, uri: &str) -> Option<Result<(), ErrorObject>> {
        let context = CallContext::bare(ProtocolVersion::LATEST);
        self.read(uri, &context).map(|_| Ok(()))
    }
}

/// Every resource source this server has. Cheap to clone.
#[derive(Clone, Default)]
pub struct ResourceRegistry {
    sources: Arc<Vec<Arc<dyn ResourceSource>>>,
}

impl std::fmt::Debug for ResourceRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResourceRegistry({} sources)", self.sources.len())
    }
}

impl ResourceRegistry {
    pub fn with(self, source: impl ResourceSource + 'static) -> Self {
        let mut sources: Vec<_> = self.sources.iter().cloned().collect();
        sources.push(Arc::new(source));
        ResourceRegistry {
            sources: Arc::new(sources),
        }
    }

    pub fn resources(&self, version: ProtocolVersion) -> Vec<Value> {
        self.sources
            .iter()
            .flat_map(|source| source.resources())
            .map(|entry| entry.to_json("uri", version))
            .collect()
    }

    pub fn templates(&self, version: ProtocolVersion) -> Vec<Value> {
        self.sources
            .iter()
            .flat_map(|source| source.templates())
            .map(|entry| entry.to_json("uriTemplate", version))
            .collect()
    }

    /// Whether `template` is one of the templates and has the variable `{variable}`.
    pub fn has_variable(&self, template: &str, variable: &str) -> bool {
        let placeholder = format!("{{{variable}}}");
        self.sources
            .iter()
            .flat_map(|source| source.templates())
            .any(|entry| entry.uri == template && entry.uri.contains(&placeholder))
    }

    /// Checks that `uri` is one some source can read (it may still turn out not to exist):
    /// -32602 for a malformed or disallowed URI of a known scheme, -32002 for an unknown one.
    pub fn check(&self, uri: &str) -> Result<(), ErrorObject> {
        self.sources
            .iter()
            .find_map(|source| source.check(uri))
            .unwrap_or_else(|| Err(not_found(uri)))
    }

    pub fn read(
        &self,
        uri: &str,
        context: CallContext,
    ) -> Result<LocalFuture<Result<Vec<Value>, ErrorObject>>, ErrorObject> {
        self.sources
            .iter()
            .find_map(|source| source.read(uri, &context))
            .ok_or_else(|| not_found(uri))
    }
}

/// The spec's "resource not found" error, with the URI in `data` as it recommends.
pub fn not_found(uri: &str) -> ErrorObject {
    ErrorObject::new(
        ErrorCode::RESOURCE_NOT_FOUND,
        format!("resource not found: {uri}; resources/templates/list gives the URI forms"),
    )
    .with_data(json!({ "uri": uri }))
}

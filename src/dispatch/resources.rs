//! The resource methods: `resources/read`, `resources/subscribe` and
//! `resources/unsubscribe`, and the read a session makes to watch what it subscribed to
//! ([`Dispatcher::resource_contents`]). `crate::resources` does the reading. Called by the
//! dispatcher, and by a `Session` actor for its subscriptions.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Dispatcher, McpState, Outcome};
use crate::{
    call::Notifier,
    mcp::{
        jsonrpc::{ErrorCode, ErrorObject},
        protocol::{ProtocolVersion, parse_params},
    },
    tools::LocalFuture,
};

#[derive(Deserialize)]
struct ReadResourceParams {
    uri: String,
}

impl Dispatcher {
    /// Reads a resource for the session itself (to watch a subscription), not for a request.
    pub fn resource_contents(
        &self,
        state: &McpState,
        uri: &str,
    ) -> Option<LocalFuture<Result<Vec<Value>, ErrorObject>>> {
        let version = state.version?;
        self.features
            .resources
            .read(uri, state.context(version, None, None))
            .ok()
    }

    /// Whether `uri` names a resource this server can read (for a listener's
    /// `resourceSubscriptions`).
    pub fn can_read(&self, uri: &str) -> bool {
        self.features.resources.check(uri).is_ok()
    }

    pub(super) fn read_resource(
        &self,
        state: &McpState,
        version: ProtocolVersion,
        params: Option<Value>,
        notifier: Option<Notifier>,
    ) -> Result<Outcome, ErrorObject> {
        let p: ReadResourceParams = parse_params("resources/read", params)?;
        let read = self
            .features
            .resources
            .read(&p.uri, state.context(version, None, notifier))?;
        Ok(Outcome::Pending(Box::pin(async move {
            let contents = read.await?;
            let mut result = Map::new();
            result.insert("contents".into(), Value::Array(contents));
            Ok(result.into())
        })))
    }

    /// Records a subscription; the session checks subscribed resources for changes and sends
    /// `notifications/resources/updated`. The URI must be one this server can read.
    pub(super) fn subscribe(
        &self,
        state: &mut McpState,
        method: &str,
        params: Option<Value>,
        on: bool,
    ) -> Result<Map<String, Value>, ErrorObject> {
        let ReadResourceParams { uri } = parse_params(method, params)?;
        if on {
            self.features.resources.check(&uri)?;
            let max = self.config.max_subscriptions;
            if !state.subscriptions.contains(&uri) && state.subscriptions.len() >= max {
                return Err(ErrorObject::new(
                    ErrorCode::SERVER_BUSY,
                    format!(
                        "this session already watches {max} resources \
                         (limits.max_subscriptions_per_session); unsubscribe from one first"
                    ),
                ));
            }
            state.subscriptions.insert(uri);
        } else {
            state.subscriptions.remove(&uri);
        }
        Ok(Map::new())
    }
}

//! `completion/complete`: suggestions for a prompt's or a resource template's argument. The
//! dispatcher checks that the prompt or template has that argument; `crate::completions`
//! finds the values. Called by the dispatcher only.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{Dispatcher, McpState, Outcome};
use crate::{
    call::Notifier,
    completions::CompletionRequest,
    mcp::{
        jsonrpc::ErrorObject,
        protocol::{ProtocolVersion, parse_params},
    },
};

#[derive(Deserialize)]
struct CompleteParams {
    #[serde(rename = "ref")]
    reference: CompletionRef,
    argument: CompleteArgument,
    #[serde(default)]
    context: Option<CompleteContext>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum CompletionRef {
    #[serde(rename = "ref/prompt")]
    Prompt { name: String },
    #[serde(rename = "ref/resource")]
    Resource { uri: String },
}

#[derive(Deserialize)]
struct CompleteArgument {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct CompleteContext {
    #[serde(default)]
    arguments: HashMap<String, String>,
}

impl Dispatcher {
    pub(super) fn complete(
        &self,
        state: &McpState,
        version: ProtocolVersion,
        params: Option<Value>,
        notifier: Option<Notifier>,
    ) -> Result<Outcome, ErrorObject> {
        let p: CompleteParams = parse_params("completion/complete", params)?;
        let known = match &p.reference {
            CompletionRef::Prompt { name } => {
                self.features.prompts.has_argument(name, &p.argument.name)
            }
            CompletionRef::Resource { uri } => {
                self.features.resources.has_variable(uri, &p.argument.name)
            }
        };
        if !known {
            let what = match &p.reference {
                CompletionRef::Prompt { name } => format!("prompt {name:?}"),
                CompletionRef::Resource { uri } => format!("resource template {uri:?}"),
            };
            return Err(ErrorObject::invalid_params(format!(
                "{what} has no argument {:?}; prompts/list and resources/templates/list give the names",
                p.argument.name
            )));
        }
        let request = CompletionRequest {
            argument: p.argument.name,
            value: p.argument.value,
            resolved: p.context.map(|c| c.arguments).unwrap_or_default(),
        };
        let context = state.context(version, None, notifier);
        Ok(Outcome::Pending(
            self.features.completions.complete(request, context)?,
        ))
    }
}

//! The prompt registry: what `prompts/list` shows and where `prompts/get` goes.
//!
//! The registry checks required arguments before a prompt sees them, so every prompt gets the
//! same -32602 answer for a missing one. The issue-workflow prompts are added by the GitHub
//! feature work (issue 3); until then the registry is empty.

use std::{collections::HashMap, sync::Arc};

use serde_json::{Map, Value, json};

use crate::{
    call::{InputRequired, Round},
    mcp::{jsonrpc::ErrorObject, protocol::ProtocolVersion},
};

pub mod issues;

/// One argument a prompt takes. Prompt argument values are always strings.
#[derive(Debug, Clone)]
pub struct PromptArgument {
    pub name: String,
    pub description: String,
    pub required: bool,
}

/// What `prompts/list` shows of a prompt.
#[derive(Debug, Clone)]
pub struct PromptDefinition {
    pub name: String,
    pub title: String,
    pub description: String,
    pub arguments: Vec<PromptArgument>,
}

impl PromptDefinition {
    fn to_json(&self, version: ProtocolVersion) -> Value {
        let arguments: Vec<Value> = self
            .arguments
            .iter()
            .map(|arg| json!({"name": arg.name, "description": arg.description, "required": arg.required}))
            .collect();
        let mut prompt = json!({
            "name": self.name,
            "description": self.description,
            "arguments": arguments,
        });
        if version.has_titles() {
            prompt["title"] = json!(self.title);
        }
        prompt
    }
}

/// One prompt: its definition and how it renders its messages.
pub trait Prompt: Send + Sync {
    fn definition(&self) -> &PromptDefinition;
    /// Returns the `prompts/get` result (`description` and `messages`).
    fn render(
        &self,
        arguments: &HashMap<String, String>,
    ) -> Result<Map<String, Value>, ErrorObject>;
    /// The `prompts/get` answer to a stateless request (`round` holds its answers to what
    /// an earlier round asked; `None` in a session): the result, or what the prompt still
    /// needs to know. Most prompts need nothing: the result.
    fn render_round(
        &self,
        arguments: &HashMap<String, String>,
        round: Option<&Round>,
    ) -> Result<Result<Map<String, Value>, InputRequired>, ErrorObject> {
        let _ = round;
        self.render(arguments).map(Ok)
    }
}

/// The prompts this server offers. Cheap to clone.
/// How a prompt turns its arguments into its result (`description`, `messages`).
pub type RenderFn = fn(&HashMap<String, String>) -> Result<Map<String, Value>, ErrorObject>;

/// A prompt made of a definition and a render function.
#[derive(Debug)]
pub struct PromptFn {
    pub definition: PromptDefinition,
    pub render: RenderFn,
}

impl Prompt for PromptFn {
    fn definition(&self) -> &PromptDefinition {
        &self.definition
    }

    fn render(
        &self,
        arguments: &HashMap<String, String>,
    ) -> Result<Map<String, Value>, ErrorObject> {
        (self.render)(arguments)
    }
}

/// A prompt result with these messages.
pub fn messages(description: Option<String>, messages: Vec<Value>) -> Map<String, Value> {
    let mut result = Map::new();
    if let Some(description) = description {
        result.insert("description".into(), Value::String(description));
    }
    result.insert("messages".into(), Value::Array(messages));
    result
}

#[derive(Clone, Default)]
pub struct PromptRegistry {
    prompts: Arc<Vec<Arc<dyn Prompt>>>,
}

impl std::fmt::Debug for PromptRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.prompts.iter().map(|prompt| &prompt.definition().name))
            .finish()
    }
}

impl PromptRegistry {
    pub fn with(self, prompt: impl Prompt + 'static) -> Self {
        let mut prompts: Vec<_> = self.prompts.iter().cloned().collect();
        prompts.push(Arc::new(prompt));
        PromptRegistry {
            prompts: Arc::new(prompts),
        }
    }

    pub fn definitions(&self, version: ProtocolVersion) -> Vec<Value> {
        self.prompts
            .iter()
            .map(|prompt| prompt.definition().to_json(version))
            .collect()
    }

    /// Whether prompt `name` exists and takes `argument`.
    pub fn has_argument(&self, name: &str, argument: &str) -> bool {
        self.prompts.iter().any(|prompt| {
            let definition = prompt.definition();
            definition.name == name && definition.arguments.iter().any(|a| a.name == argument)
        })
    }

    /// The `prompts/get` answer: the result, or (stateless revision, `round` given) what the
    /// prompt needs to know first.
    pub fn get(
        &self,
        name: &str,
        arguments: &HashMap<String, String>,
        round: Option<&Round>,
    ) -> Result<Result<Map<String, Value>, InputRequired>, ErrorObject> {
        let prompt = self
            .prompts
            .iter()
            .find(|prompt| prompt.definition().name == name)
            .ok_or_else(|| {
                ErrorObject::invalid_params(format!(
                    "unknown prompt {name:?}; prompts/list gives the available ones"
                ))
            })?;
        let missing: Vec<&str> = prompt
            .definition()
            .arguments
            .iter()
            .filter(|arg| arg.required && !arguments.contains_key(&arg.name))
            .map(|arg| arg.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ErrorObject::invalid_params(format!(
                "prompt {name:?} is missing required arguments: {}",
                missing.join(", ")
            )));
        }
        prompt.render_round(arguments, round)
    }
}

//! What the server offers, as one value: the registries behind the tools, resources, prompts
//! and completion methods. `lib.rs` fills it (and `crate::conformance` adds the test suite's
//! fixtures); the dispatcher (`crate::dispatch`) answers from it.

use crate::{
    completions::Completions, prompts::PromptRegistry, resources::ResourceRegistry,
    tools::ToolRegistry,
};

/// What the server offers: the registries behind the tools, resources and prompts methods.
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub tools: ToolRegistry,
    pub resources: ResourceRegistry,
    pub prompts: PromptRegistry,
    pub completions: Completions,
}

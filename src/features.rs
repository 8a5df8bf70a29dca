//! What the server offers, as one value: the registries behind the tools, resources, prompts
//! and completion methods, and the [`Changes`] to them that listeners hear of. `lib.rs` fills
//! it (and `crate::conformance` adds the test suite's fixtures); the dispatcher
//! (`crate::dispatch`) answers from it, and the stateless revision's `subscriptions/listen`
//! streams (`crate::http::modern`) listen to its changes.

use tokio::sync::broadcast;

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
    pub changes: Changes,
}

/// A change that `subscriptions/listen` streams announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    ToolsList,
    PromptsList,
    ResourcesList,
}

/// Where changes are announced, to every listener open at that moment. The lists do not
/// change while this server runs (a new configuration means a restart); only the conformance
/// suite's trigger fixtures announce changes. A listener too slow to keep up misses changes
/// beyond the channel's room (it is told the lists changed anyway: see the listen stream).
#[derive(Debug, Clone)]
pub struct Changes(broadcast::Sender<Change>);

impl Default for Changes {
    fn default() -> Self {
        Changes(broadcast::channel(64).0)
    }
}

impl Changes {
    pub fn announce(&self, change: Change) {
        // No listener: nobody to tell.
        let _ = self.0.send(change);
    }

    pub fn listen(&self) -> broadcast::Receiver<Change> {
        self.0.subscribe()
    }
}

//! The flag that says the server is draining (shutting down): set once by `crate::shutdown`,
//! read by `/ready`, the transports (no new sessions), the sessions (no new requests) and, through
//! the dispatcher, long tools (stop between two steps). A leaf: everything may read it.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// Whether the server is draining. Cheap to clone and to read.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

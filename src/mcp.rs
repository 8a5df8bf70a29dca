//! The Model Context Protocol's wire types, independent of any transport and of any session.
//!
//! - [`jsonrpc`]: the JSON-RPC 2.0 envelope, parsed strictly;
//! - [`protocol`]: MCP revisions, log levels, initialize and pagination payloads, and the
//!   methods this server answers;
//! - [`envelope`]: what a request of the stateless revision (2026-07-28) says about itself in
//!   `_meta`, and that revision's errors.

pub mod envelope;
pub mod jsonrpc;
pub mod protocol;

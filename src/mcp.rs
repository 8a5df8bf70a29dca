//! The Model Context Protocol, independent of any transport.
//!
//! - [`jsonrpc`]: the JSON-RPC 2.0 envelope, parsed strictly;
//! - [`outlet`]: where a session's messages leave it, numbered and replayable per stream;
//! - [`protocol`]: MCP revisions, log levels, initialize and pagination payloads;
//! - [`context`]: what a handler knows about its request (credential, progress, memory);
//! - [`state`]: one session's MCP state, and the context its requests get;
//! - [`dispatcher`]: method routing, used by every `Session` actor whatever its transport.

pub mod context;
pub mod dispatcher;
pub mod jsonrpc;
pub mod outlet;
pub mod protocol;
pub mod state;

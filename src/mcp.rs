//! The Model Context Protocol, independent of any transport.
//!
//! - [`jsonrpc`]: the JSON-RPC 2.0 envelope, parsed strictly;
//! - [`protocol`]: MCP revisions, log levels, initialize and pagination payloads;
//! - [`dispatcher`]: method routing, used by every `Session` actor whatever its transport.

pub mod dispatcher;
pub mod jsonrpc;
pub mod protocol;

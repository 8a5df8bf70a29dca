//! The Model Context Protocol's wire types, independent of any transport and of any session.
//!
//! - [`jsonrpc`]: the JSON-RPC 2.0 envelope, parsed strictly;
//! - [`protocol`]: MCP revisions, log levels, initialize and pagination payloads, and the
//!   methods this server answers.

pub mod jsonrpc;
pub mod protocol;

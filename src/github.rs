//! Everything about talking to GitHub's REST API, except deciding when: that is the
//! `GitHubGateway` actor's job (`crate::github::gateway`), and it is the only user of
//! [`transport`].
//!
//! - [`request`]: credentials, requests and answers, `Link` pagination.
//! - [`transport`]: one HTTPS call with GitHub's headers, GET retries, status classification.
//! - [`limits`]: per-credential rate-limit budgets, secondary back-off, mutation spacing.
//! - [`cache`]: the ETag cache behind conditional requests; [`get_key`]: the key of a GET in
//!   it and in the gateway, hashed once.
//! - [`error`]: failures as sentences a model can act on.
//! - [`models`] and [`api`]: typed issues, comments and searches, and the calls that fetch
//!   them through the gateway. Tools and resources use [`api::GitHub`].

pub mod api;
pub mod cache;
pub mod error;
pub mod gateway;
pub mod get_key;
pub mod limits;
pub mod models;
pub mod request;
pub mod transport;

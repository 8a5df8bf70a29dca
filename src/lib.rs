//! `github-issue-mcp`: a remote MCP server, built on actix actors, that lets AI agents manage
//! GitHub issues. Many clients connect to one process over HTTP; each gets its own session actor.
//!
//! # Layout
//!
//! The modules form layers, each using only those below it; the order is written once in
//! `tests/architecture.rs` and shown in the README's Architecture section. Bottom first:
//! [`time`], [`draining`], [`repo`] (leaves); [`policy`], [`config`], [`healthcheck`]; [`mcp`]
//! (JSON-RPC and MCP wire types, the method table); [`outlet`] (a session's numbered,
//! replayable event stream); [`metrics`]; [`github`] (the GitHub stack and its gateway actor);
//! [`auth`]; [`call`] (what a handler knows about its call); the features [`tools`],
//! [`resources`], [`prompts`], [`completions`], bundled by [`features`], and the conformance
//! fixtures [`conformance`]; [`dispatch`] (method routing, no session needed); [`actors`]
//! (`SessionRegistry`, `Session`, `ResourceWatcher`); [`shutdown`]; [`http`] (routes, both
//! transports and the stateless revision beside them, intake limits); [`cli`]; and this file,
//! which wires them.
//!
//! [`run`] starts the whole server on a listener the caller bound, which is how `main` and the
//! integration tests start it.

use std::{
    io,
    net::TcpListener,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::Actor;
use actix_web::{App, HttpServer, dev::Server, middleware, web};

pub mod actors;
pub mod auth;
pub mod call;
pub mod cli;
pub mod cluster;
pub mod completions;
pub mod config;
pub mod conformance;
pub mod dispatch;
pub mod draining;
pub mod features;
pub mod github;
pub mod healthcheck;
pub mod http;
pub mod mcp;
pub mod metrics;
pub mod outlet;
pub mod policy;
pub mod prompts;
pub mod repo;
pub mod resources;
pub mod shutdown;
pub mod time;
pub mod tools;

use crate::{
    actors::registry::SessionRegistry,
    auth::Authenticator,
    completions::{Completions, GitHubCompleter},
    config::{AuthMode, Settings},
    dispatch::{Dispatcher, DispatcherConfig, Features},
    draining::Draining,
    github::{api::GitHub, gateway::GitHubGateway, request::Credential, transport::Moves},
    http::{AppState, guard::OriginGuard},
    metrics::Metrics,
    resources::{ResourceRegistry, issues::IssueResources},
};

/// How long the HTTP server waits for open connections once the sessions are closed (see
/// `shutdown`): by then their streams have ended, so this is only a backstop.
const SHUTDOWN_TIMEOUT_SECS: u64 = 1;

/// Starts the server on `listener` with the GitHub issue features.
///
/// Must be called from within an actix system (`#[actix_web::main]`, `actix_rt::System`): the
/// actors are started on it. The returned [`Server`] runs when awaited or spawned.
pub fn run(listener: TcpListener, settings: Settings) -> io::Result<Server> {
    run_with(listener, settings, github_features)
}

/// The key that seals stateless request states: the configured one, or one derived from the
/// cluster's shared secret, or one made now.
fn request_state_key(settings: &Settings) -> dispatch::rounds::StateKey {
    let cluster_secret = settings
        .cluster
        .redis_url()
        .and(settings.cluster.secret.as_ref());
    match (&settings.mcp.request_state_key, cluster_secret) {
        (Some(key), _) => dispatch::rounds::StateKey::new(key.expose().as_bytes()),
        (None, Some(secret)) => {
            // A key of its own, so that nothing sealed with it reveals the secret's other uses.
            let base = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
            let derived = ring::hmac::sign(&base, b"github-issue-mcp requestState key v1");
            dispatch::rounds::StateKey::new(derived.as_ref())
        }
        (None, None) => {
            log::info!(
                "mcp.request_state_key is not set: requestState of 2026-07-28 clients is \
                 sealed with a key made at start, which other replicas do not have"
            );
            dispatch::rounds::StateKey::generate()
        }
    }
}

/// The GitHub tools, resources, prompts and completions (and the conformance fixtures, when
/// switched on).
fn github_features(github: &GitHub, settings: &Settings, metrics: &Metrics) -> Features {
    // Validated with the settings, so this cannot fail here.
    let policy = settings.rules().clone();
    let mut features = Features {
        tools: tools::github_tools(
            github.clone(),
            settings.tools.clone(),
            policy.clone(),
            metrics.clone(),
        ),
        resources: ResourceRegistry::default().with(IssueResources::new(
            github.clone(),
            settings.tools.clone(),
            policy.clone(),
        )),
        prompts: prompts::issues::issue_prompts(),
        completions: Completions::new(GitHubCompleter::new(github.clone(), policy)),
        changes: Default::default(),
    };
    if settings.mcp.conformance_fixtures {
        log::warn!(
            "conformance fixtures are on (test_* tools, test:// resources): for testing only"
        );
        features = conformance::add_fixtures(features);
    }
    features
}

/// Starts the server with the features `make_features` builds on the GitHub gateway and the
/// server's metrics (tests pass their own).
pub fn run_with(
    listener: TcpListener,
    settings: Settings,
    make_features: impl FnOnce(&GitHub, &Settings, &Metrics) -> Features,
) -> io::Result<Server> {
    let address = listener.local_addr()?;
    if settings.auth.mode == AuthMode::None
        && !address.ip().is_loopback()
        && !settings.auth.allow_unauthenticated_remote
    {
        return Err(io::Error::other(format!(
            "refusing to serve {address} without authentication: anyone who can reach it could \
             use the server's GitHub token. Set auth.mode to api-keys or github-token \
             (GITHUB_ISSUE_MCP__AUTH__MODE), or, if a proxy in front authenticates, set \
             auth.allow_unauthenticated_remote = true"
        )));
    }
    let metrics = Metrics::default();
    let cluster = join_cluster(&settings, address)?;
    // Validated with the settings, so the policy parses here.
    let confined = settings.rules().confines_repositories();
    let moves = if confined {
        Moves::Refuse
    } else {
        Moves::Follow
    };
    let gateway = GitHubGateway::new(&settings.github, moves, metrics.clone())
        .map_err(|err| io::Error::other(format!("cannot build the GitHub client: {err}")))?
        .in_cluster(cluster.clone())
        .start();
    let github = GitHub::new(gateway.clone().recipient(), &settings.github.api_url);
    let features = make_features(&github, &settings, &metrics);
    let server_credential = settings.github.token.clone().map(Credential::new);
    let auth = Authenticator::new(&settings.auth, server_credential, github, cluster.clone())
        .map_err(|err| io::Error::other(format!("invalid configuration: {err}")))?;
    let forwarder = match cluster.instance() {
        Some(_) => Some(
            http::forward::Forwarder::new(
                cluster.clone(),
                Duration::from_secs(settings.limits.tool_timeout_secs + 5),
                settings.sse.keep_alive() * 2 + Duration::from_secs(5),
            )
            .map_err(|err| {
                io::Error::other(format!("cannot build the forwarding client: {err}"))
            })?,
        ),
        None => None,
    };
    let settings = Arc::new(settings);
    let draining = Draining::default();
    let dispatcher = Dispatcher::new(
        features,
        DispatcherConfig {
            page_size: settings.mcp.page_size,
            poll_interval: settings.mcp.subscription_poll(),
            tool_timeout: Duration::from_secs(settings.limits.tool_timeout_secs),
            max_in_flight: settings.limits.max_in_flight_per_session,
            max_subscriptions: settings.limits.max_subscriptions_per_session,
            metrics: metrics.clone(),
            request_state_key: request_state_key(&settings),
            request_state_ttl: Duration::from_secs(settings.mcp.request_state_ttl_secs),
            draining: draining.clone(),
        },
    );
    let state = AppState {
        registry: SessionRegistry::new(
            settings.limits.max_sessions,
            settings.limits.max_sessions_per_principal,
        )
        .in_cluster(cluster.clone())
        .start(),
        watcher: actors::watcher::ResourceWatcher::new(dispatcher.clone()).start(),
        dispatcher,
        settings: settings.clone(),
        started_at: Instant::now(),
        auth,
        guard: OriginGuard::new(&settings.server, address),
        draining,
        gateway,
        metrics,
        intake: http::intake::Intake::new(&settings.server, &settings.http),
        listens: http::modern::limits::InFlight::new(settings.limits.max_sessions_per_principal),
        stateless: http::modern::limits::InFlight::new(
            settings.limits.max_sessions_per_principal * settings.limits.max_in_flight_per_session,
        ),
        cluster: cluster.clone(),
        forwarder,
    };
    let (registry, draining) = (state.registry.clone(), state.draining.clone());
    let stateless = state.stateless.clone();
    let intake = state.intake.clone();
    // actix caps connections per worker; the setting is for the whole server.
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };

    log::info!(
        "{} {} listening on http://{address}: /mcp (MCP Streamable HTTP), GET /sse + POST /messages (MCP HTTP+SSE), GET /health",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
    );
    log::info!(
        "auth mode {:?}; GitHub API {} with server token {}",
        settings.auth.mode,
        settings.github.api_url,
        settings
            .github
            .token
            .as_ref()
            .map_or_else(|| "(none)".to_string(), |token| token.masked()),
    );

    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            // Made here, so once per worker thread: its own memory of where sessions live.
            .app_data(web::Data::new(<http::routes::Routes>::default()))
            .wrap(middleware::from_fn(http::guard::guard))
            // Outermost: a crowding peer's connection is refused before anything else runs,
            // and an unread body closes its connection whoever answered.
            .wrap(middleware::from_fn(http::screen::screen))
            .configure(http::configure)
    })
    .on_connect(move |connection, data| intake.on_connect(connection, data))
    .max_connections(settings.server.max_connections.div_ceil(workers))
    .client_request_timeout(Duration::from_millis(settings.server.head_timeout_ms))
    .keep_alive(http::intake::KEEP_ALIVE)
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    // A client that closes its side of the connection has gone: drop its response at once. By
    // default actix keeps a half-closed connection's response streaming, so an idle SSE session
    // would only notice its client left at the next keep-alive write that fails.
    .h1_allow_half_closed(false)
    // Every message is a small write on a long-lived stream, answered by the client's next
    // request: Nagle's algorithm would hold each one back until the previous write is
    // acknowledged (about 40 ms with delayed ACKs).
    .tcp_nodelay(true);
    server = server.workers(workers);
    // Our own signal handling drains sessions before the HTTP server stops.
    let server = server.disable_signals().listen(listener)?.run();
    actix_web::rt::spawn(shutdown::on_signal(
        draining,
        registry,
        server.handle(),
        Duration::from_millis(settings.server.drain_timeout_ms),
        move || stateless.total(),
        cluster,
    ));
    Ok(server)
}

/// Joins the cluster when `cluster.redis_url` is set, as a new replica reachable at
/// `cluster.advertise_url` or else at the bound `address` (when it is a specific one).
fn join_cluster(
    settings: &Settings,
    address: std::net::SocketAddr,
) -> io::Result<cluster::Cluster> {
    if settings.cluster.redis_url().is_none() {
        return Ok(cluster::Cluster::single());
    }
    let advertise = match settings.cluster.advertise_url.as_str() {
        "" if address.ip().is_unspecified() => {
            return Err(io::Error::other(format!(
                "cluster.advertise_url is not set, and the bound address {address} does not say \
                 how the other replicas reach this one: set \
                 GITHUB_ISSUE_MCP__CLUSTER__ADVERTISE_URL (in Kubernetes, \
                 http://$(POD_IP):{port})",
                port = address.port()
            )));
        }
        "" => format!("http://{address}"),
        url => url.trim_end_matches('/').to_string(),
    };
    cluster::Cluster::join(&settings.cluster, cluster::Instance::random(), advertise)
        .map_err(|err| io::Error::other(format!("invalid configuration: {err}")))
}

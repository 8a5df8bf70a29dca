#!/usr/bin/env bash
# Runs every test of github-issue-mcp; the README's test command and what .ci/run calls.
#
# 1. Installs the real MCP clients the integration tests drive (MCP Inspector CLI, the official
#    TypeScript SDK, Node 22 itself) from tests/clients/package-lock.json, when missing or stale.
# 2. Installs redis-server and haproxy for the cluster tests, when missing (root, apt).
# 3. cargo build --release of the server, for the cluster test's replicas.
# 4. cargo test --all-targets: unit tests and the integration tests, which start the real server
#    on 127.0.0.1:0 and speak HTTP/SSE to it (raw, and through the real clients), and a
#    seconds-long smoke run of the load benchmark (benches/load) that checks that it still
#    works. It prints numbers and has no thresholds: the full run is `cargo bench --bench load`.
# 5. The container smoke test (scripts/container-smoke.sh: lint, podman build of the
#    Containerfile, run read-only as non-root, healthcheck, SIGTERM). It installs podman and
#    needs root; SKIP_CONTAINER_SMOKE=1 skips it for a quick local run.
set -euo pipefail
cd "$(dirname "$0")/.."

clients=tests/clients
if [ ! -x "$clients/node_modules/.bin/node" ] ||
    [ "$clients/package-lock.json" -nt "$clients/node_modules/.package-lock.json" ]; then
    echo "== installing the real MCP clients (npm ci in $clients)"
    npm ci --prefix "$clients" --no-audit --no-fund
fi

# The cluster tests (tests/cluster.rs, tests/cluster_clients.rs) run replicas around a real
# Redis, and a real load balancer in front of them: Debian's redis-server and haproxy, installed when missing. apt
# must not try to start them as services (there is no init here): policy-rc.d says no.
if ! command -v redis-server >/dev/null || ! command -v haproxy >/dev/null; then
    echo "== installing redis-server and haproxy (cluster tests)"
    if [ "$(id -u)" != 0 ]; then
        echo "redis-server and haproxy are missing and this is not root: install them" >&2
        exit 1
    fi
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server haproxy
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
fi

# The cluster test (tests/cluster_clients.rs) runs the server as it ships: a release build
# (fat LTO: minutes from cold). It builds it itself, so it never runs a stale binary; built
# here first, the build is its own step and the test's time is its own.
echo "== cargo build --release (the cluster test's replicas)"
cargo build --release --bin github-issue-mcp

echo "== cargo test"
cargo test --all-targets

if [ "${SKIP_CONTAINER_SMOKE:-0}" = 1 ]; then
    echo "== container smoke test skipped (SKIP_CONTAINER_SMOKE=1)"
else
    echo "== container smoke test"
    scripts/container-smoke.sh
fi

#!/usr/bin/env bash
# Runs every test of github-issue-mcp; the README's test command and what .ci/run calls.
#
# 1. Installs the real MCP clients the integration tests drive (MCP Inspector CLI, the official
#    TypeScript SDK, Node 22 itself) from tests/clients/package-lock.json, when missing or stale.
# 2. cargo test --all-targets: unit tests and the integration tests, which start the real server
#    on 127.0.0.1:0 and speak HTTP/SSE to it (raw, and through the real clients), and a
#    seconds-long smoke run of the load benchmark (benches/load) that checks that it still
#    works. It prints numbers and has no thresholds: the full run is `cargo bench --bench load`.
# 3. The container smoke test (scripts/container-smoke.sh: lint, podman build of the
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

echo "== cargo test"
cargo test --all-targets

if [ "${SKIP_CONTAINER_SMOKE:-0}" = 1 ]; then
    echo "== container smoke test skipped (SKIP_CONTAINER_SMOKE=1)"
else
    echo "== container smoke test"
    scripts/container-smoke.sh
fi

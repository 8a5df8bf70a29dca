#!/usr/bin/env python3
"""Sends N requests of one method to the server on one keep-alive connection:
stateless (2026-07-28) or over one Streamable HTTP session. Usage: drive.py PORT MODE METHOD N"""
import http.client, json, sys

port, mode, method, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
params = {}
name = None
if method == "tools/call":
    params = {"name": "list_issues", "arguments": {"owner": "bench", "repo": "issues", "limit": 20}}
    name = "list_issues"
conn = http.client.HTTPConnection("127.0.0.1", port)
base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

def post(body, headers):
    conn.request("POST", "/mcp", body=json.dumps(body), headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status not in (200, 202):
        sys.exit(f"{r.status}: {data[:300]}")
    return r, data

if mode == "stateless":
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
    h = dict(base, **{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method})
    if name:
        h["Mcp-Name"] = name
    for i in range(n):
        _, data = post({"jsonrpc": "2.0", "id": i + 1, "method": method,
                        "params": dict(params, _meta=meta)}, h)
        if b'"complete"' not in data:
            sys.exit(f"not complete: {data[:300]}")
else:
    r, _ = post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "prof", "version": "1"}}}, base)
    sid = r.getheader("mcp-session-id")
    h = dict(base, **{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"})
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, h)
    for i in range(n):
        _, data = post({"jsonrpc": "2.0", "id": i + 1, "method": method, "params": params}, h)
        if b'"error"' in data[:200]:
            sys.exit(f"error: {data[:300]}")
print(f"{mode} {method} x{n}: ok")

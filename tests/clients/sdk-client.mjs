// Drives our server with the official MCP TypeScript SDK client, many clients at once.
//
//   node sdk-client.mjs sse <url-of-/sse> <clients>
//   node sdk-client.mjs http <url-of-/mcp> <clients>
//
// Each client connects (the SDK performs initialize and the initialized notification), then
// pings, lists tools, resources, resource templates and prompts, and calls a tool that does not
// exist, which must fail with JSON-RPC error -32602. All clients run concurrently on one server.
// Prints ONE JSON line on stdout: {"clients", "ok", "failures": [...], "serverInfo", "tools"};
// exits 0 only if every client did everything. The Rust test
// tests/real_clients.rs runs this and checks the summary.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [transportName, url, countArg] = process.argv.slice(2);
const TRANSPORTS = {
  sse: (target) => new SSEClientTransport(target),
  http: (target) => new StreamableHTTPClientTransport(target),
};
const count = Number.parseInt(countArg ?? "1", 10);
if (!TRANSPORTS[transportName] || !url || !(count >= 1)) {
  console.error(
    `usage: node sdk-client.mjs <${Object.keys(TRANSPORTS).join("|")}> <url> <clients>=1>`,
  );
  process.exit(2);
}

// A hung server must fail the test with a message, not hang it.
const TIMEOUT_MS = 30_000;
setTimeout(() => {
  console.error(`sdk-client: gave up after ${TIMEOUT_MS} ms`);
  process.exit(3);
}, TIMEOUT_MS).unref();

async function runOne(index) {
  const client = new Client({ name: `sdk-client-${index}`, version: "1.0.0" });
  await client.connect(TRANSPORTS[transportName](new URL(url)));
  try {
    await client.ping();
    const tools = await client.listTools();
    if (!Array.isArray(tools.tools)) throw new Error("tools/list result has no tools array");
    await client.listResources();
    await client.listResourceTemplates();
    await client.listPrompts();
    let code;
    try {
      await client.callTool({ name: "no_such_tool", arguments: {} });
    } catch (error) {
      code = error.code;
    }
    if (code !== -32602) {
      throw new Error(`calling an unknown tool gave error code ${code}, expected -32602`);
    }
    return {
      serverInfo: client.getServerVersion(),
      tools: tools.tools.length,
    };
  } finally {
    await client.close();
  }
}

const results = await Promise.allSettled(
  Array.from({ length: count }, (_, index) => runOne(index)),
);
const failures = results
  .map((result, index) => (result.status === "rejected" ? `client ${index}: ${result.reason}` : null))
  .filter(Boolean);
const first = results.find((result) => result.status === "fulfilled")?.value ?? {};
console.log(
  JSON.stringify({
    clients: count,
    ok: count - failures.length,
    failures: failures.slice(0, 5),
    serverInfo: first.serverInfo ?? null,
    tools: first.tools ?? null,
  }),
);
process.exit(failures.length === 0 ? 0 : 1);

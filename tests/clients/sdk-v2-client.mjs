// Drives our server with the official TypeScript SDK v2 client (@modelcontextprotocol/client)
// on the stateless revision 2026-07-28, over Streamable HTTP.
//
//   node sdk-v2-client.mjs <url-of-/mcp> <auto|2026-07-28> <owner/repo> <issue-number>
//
// The second argument is the client's version negotiation: `auto` (probe with server/discover,
// fall back to the handshake era unless the answer is modern) or a revision to pin (no
// fallback). The client lists tools, calls list_issues, reads issue://<owner/repo>/<number>,
// gets the triage-issue prompt, and calls the fixture tool that asks for the user's name with
// an input_required result, which the SDK answers through the elicitation handler below. Every
// HTTP exchange is recorded by wrapping fetch, so the Rust test can check which era was
// spoken. Any failure throws (exit 1). Prints ONE JSON line on stdout; tests/real_clients_modern.rs checks it.

import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const [url, mode, repoArg, numberArg] = process.argv.slice(2);
const [owner, repo] = (repoArg ?? "").split("/");
if (!url || !mode || !owner || !repo || !numberArg) {
  console.error("usage: node sdk-v2-client.mjs <url> <auto|revision> <owner/repo> <number>");
  process.exit(2);
}

// A hung server must fail the test with a message, not hang it.
const TIMEOUT_MS = 30_000;
setTimeout(() => {
  console.error(`sdk-v2-client: gave up after ${TIMEOUT_MS} ms`);
  process.exit(3);
}, TIMEOUT_MS).unref();

// One entry per HTTP exchange: what was sent, and the session header that came back, if any.
const exchanges = [];
async function recordingFetch(input, init = {}) {
  const response = await fetch(input, init);
  const sent = new Headers(init.headers);
  let message = {};
  try {
    message = JSON.parse(init.body);
  } catch {
    // A GET or DELETE has no body.
  }
  exchanges.push({
    http: init.method ?? "GET",
    method: message.method ?? null,
    inputResponses: message.params?.inputResponses ?? null,
    protocolVersionHeader: sent.get("mcp-protocol-version"),
    status: response.status,
    sessionId: response.headers.get("mcp-session-id"),
  });
  return response;
}

const client = new Client(
  { name: "sdk-v2-client", version: "1.0.0" },
  {
    capabilities: { elicitation: {} },
    versionNegotiation: { mode: mode === "auto" ? "auto" : { pin: mode } },
  },
);
const elicited = [];
client.setRequestHandler("elicitation/create", async (request) => {
  elicited.push(request.params);
  return { action: "accept", content: { name: "Ada" } };
});

await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: recordingFetch }));
const tools = await client.listTools();
const listIssues = await client.callTool({ name: "list_issues", arguments: { owner, repo } });
const resource = await client.readResource({ uri: `issue://${owner}/${repo}/${numberArg}` });
const prompt = await client.getPrompt({
  name: "triage-issue",
  arguments: { owner, repo, issue_number: numberArg },
});
const greeting = await client.callTool({
  name: "test_input_required_result_elicitation",
  arguments: {},
});
const summary = {
  era: client.getProtocolEra() ?? null,
  protocolVersion: client.getNegotiatedProtocolVersion() ?? null,
  serverInfo: client.getServerVersion() ?? null,
  tools: tools.tools.map((tool) => tool.name),
  listIssues,
  resource,
  prompt,
  elicited,
  greeting,
};
// Closing is recorded too: a handshake-era client would end its session with a DELETE.
await client.close();
console.log(JSON.stringify({ ...summary, exchanges }));

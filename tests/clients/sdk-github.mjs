// The official MCP TypeScript SDK client uses every GitHub feature of our server, over either
// transport:
//
//   node sdk-github.mjs sse  <url-of-/sse>  <owner/repo> <issue-number>
//   node sdk-github.mjs http <url-of-/mcp>  <owner/repo> <issue-number>
//
// It calls every tool (the SDK checks each structuredContent against the tool's outputSchema),
// reads each resource template, gets each prompt, completes an argument, subscribes to the
// issue, changes it, and waits for notifications/resources/updated. Then it closes the issue,
// which the server confirms with the user first (an elicitation/create the client answers yes),
// and, where the server offers the conformance fixture test_sampling, answers its
// sampling/createMessage: the two server-to-client round trips. The repository must exist
// with the issue in it (the Rust test seeds the fake GitHub). Prints ONE JSON line with what it
// saw; exits non-zero on any failure. Run by tests/real_clients.rs.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [transportName, url, fullRepo, numberArg] = process.argv.slice(2);
const transports = {
  sse: (target) => new SSEClientTransport(target),
  http: (target) => new StreamableHTTPClientTransport(target),
};
if (!transports[transportName] || !url || !fullRepo || !numberArg) {
  console.error("usage: node sdk-github.mjs <sse|http> <url> <owner/repo> <issue-number>");
  process.exit(2);
}
const [owner, repo] = fullRepo.split("/");
const number = Number.parseInt(numberArg, 10);

const TIMEOUT_MS = 30_000;
setTimeout(() => {
  console.error(`sdk-github: gave up after ${TIMEOUT_MS} ms`);
  process.exit(3);
}, TIMEOUT_MS).unref();

const client = new Client(
  { name: "sdk-github", version: "1.0.0" },
  { capabilities: { elicitation: {}, sampling: {} } },
);
const asked = [];
client.setRequestHandler(ElicitRequestSchema, (request) => {
  asked.push(request.params.message);
  return { action: "accept", content: { confirm: true } };
});
client.setRequestHandler(CreateMessageRequestSchema, (request) => {
  asked.push(request.params.messages[0].content.text);
  return { role: "assistant", content: { type: "text", text: "sampled" }, model: "none" };
});
let announce;
const updated = new Promise((resolve) => (announce = resolve));
client.setNotificationHandler(ResourceUpdatedNotificationSchema, (note) => announce(note.params.uri));
await client.connect(transports[transportName](new URL(url)));

const summary = { transport: transportName, tools: {}, resources: {}, prompts: {} };
const fail = (why) => {
  console.log(JSON.stringify({ ...summary, failure: why }));
  process.exit(1);
};

const listed = await client.listTools();
summary.toolCount = listed.tools.length;

const repoArgs = { owner, repo };
const calls = [
  ["list_issues", { ...repoArgs, state: "all", limit: 5 }],
  ["list_issues_paginated", { ...repoArgs, per_page: 2 }],
  ["get_issue", { ...repoArgs, issue_number: number }],
  ["search_issues", { query: `repo:${fullRepo}` }],
  ["list_issue_comments", { ...repoArgs, issue_number: number }],
  ["add_issue_comment", { ...repoArgs, issue_number: number, body: `from ${transportName}` }],
  ["batch_label_issues", { ...repoArgs, issue_numbers: [number], labels: [`via-${transportName}`] }],
  ["create_issue", { ...repoArgs, title: `Filed over ${transportName}` }],
];
for (const [name, args] of calls) {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) fail(`${name}: ${result.content?.[0]?.text}`);
  summary.tools[name] = result.structuredContent ? "structured" : "text";
}

for (const uri of [
  `issue://${fullRepo}/${number}`,
  `issue://${fullRepo}/${number}/comments`,
  `issue://${fullRepo}/open`,
]) {
  const read = await client.readResource({ uri });
  summary.resources[uri] = read.contents[0]?.mimeType;
}

for (const [name, args] of [
  ["triage-issue", { ...repoArgs, issue_number: String(number) }],
  ["weekly-summary", repoArgs],
  ["bug-report-template", {}],
]) {
  const prompt = await client.getPrompt({ name, arguments: args });
  summary.prompts[name] = prompt.messages.length;
}

const completed = await client.complete({
  ref: { type: "ref/resource", uri: "issue://{owner}/{repo}/{number}" },
  argument: { name: "number", value: "" },
  context: { arguments: repoArgs },
});
summary.completedNumbers = completed.completion.values;

const watched = `issue://${fullRepo}/${number}`;
await client.subscribeResource({ uri: watched });
const changed = await client.callTool({
  name: "update_issue",
  arguments: { ...repoArgs, issue_number: number, title: `Changed over ${transportName}` },
});
if (changed.isError) fail(`update_issue: ${changed.content?.[0]?.text}`);
summary.tools.update_issue = "structured";
summary.updated = await updated;

const closed = await client.callTool({
  name: "update_issue",
  arguments: { ...repoArgs, issue_number: number, state: "closed" },
});
if (closed.isError) fail(`closing: ${closed.content?.[0]?.text}`);
if (listed.tools.some((tool) => tool.name === "test_sampling")) {
  const sampled = await client.callTool({ name: "test_sampling", arguments: { prompt: "Hi?" } });
  summary.sampled = sampled.content?.[0]?.text;
}
summary.asked = asked;

await client.close();
console.log(JSON.stringify(summary));
process.exit(0);

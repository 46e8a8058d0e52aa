// A client written with the TypeScript SDK (1.x) that declares form mode elicitation only, as clients
// without URL mode do, in front of a server it starts over stdio (`handoff bridge` in the tests).
// Usage: node bridged.mjs TOOL ARGUMENTS_JSON -- COMMAND ARGS... It answers each form by choosing
// "open in my browser", calls TOOL once, and prints {result, asked} as JSON: the call's result and
// the messages of the forms it was shown.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const [tool, argumentsJson, separator, command, ...args] = process.argv.slice(2);
if (separator !== "--") throw new Error("usage: node bridged.mjs TOOL ARGUMENTS_JSON -- COMMAND ARGS...");
const transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
const client = new Client({ name: "ts-form-only", version: "1.0.0" }, { capabilities: { elicitation: { form: {} } } });
const asked = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  asked.push(request.params.message);
  return { action: "accept", content: { choice: "open in my browser" } };
});
await client.connect(transport);
const result = await client.callTool({ name: tool, arguments: JSON.parse(argumentsJson) }, undefined, {
  timeout: 120_000,
  resetTimeoutOnProgress: true,
});
console.log(JSON.stringify({ result, asked }));
await client.close();

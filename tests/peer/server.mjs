// A peer MCP server written with the TypeScript SDK (1.x), for handoff's client tests.
// Usage: node server.mjs PORT. Serves streamable HTTP at /mcp and a fake "browser step" at /step/:id.
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { ElicitResultSchema, isInitializeRequest, UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

const port = Number(process.argv[2]);
const base = `http://127.0.0.1:${port}`;
const transports = {};   // session id -> transport
const owners = {};       // elicitation id -> session's server (who gets the completion notice)
const done = new Set();  // completed elicitation ids
const counts = {};       // tool name -> calls

function buildServer() {
  const server = new McpServer({ name: "ts-peer", version: "1.0.0" });
  const count = (name) => { counts[name] = (counts[name] || 0) + 1; };

  server.registerTool("peer_error", { description: "Needs a browser step (-32042).", inputSchema: { key: z.string() } },
    async ({ key }) => {
      count("peer_error");
      const id = `peer-${key}`;
      if (done.has(id)) return { content: [{ type: "text", text: `peer ran for ${key}` }] };
      owners[id] = server.server;
      throw new UrlElicitationRequiredError([
        { mode: "url", message: `Connect ${key} in your browser.`, url: `${base}/step/${id}`, elicitationId: id },
      ]);
    });

  server.registerTool("peer_request", { description: "Asks with elicitation/create (url).", inputSchema: {} },
    async () => {
      count("peer_request");
      const id = `req-${randomUUID()}`;
      owners[id] = server.server;
      const answer = await server.server.elicitInput({
        mode: "url", message: "Approve in your browser.", url: `${base}/step/${id}`, elicitationId: id });
      return { content: [{ type: "text", text: `action=${answer.action} id=${id}` }] };
    });

  server.registerTool("peer_form", { description: "Asks in form mode.", inputSchema: {} }, async () => {
    count("peer_form");
    try {
      // Sent raw, past the SDK's own capability check: a misbehaving server.
      await server.server.request({ method: "elicitation/create", params: { mode: "form", message: "Your name?",
        requestedSchema: { type: "object", properties: { name: { type: "string" } } } } }, ElicitResultSchema);
      return { content: [{ type: "text", text: "form answered" }] };
    } catch (err) {
      return { content: [{ type: "text", text: `form refused with code ${err.code}` }] };
    }
  });

  server.registerTool("peer_flood", { description: "Asks for many browser steps at once.", inputSchema: {} },
    async () => {
      count("peer_flood");
      const items = Array.from({ length: 25 }, (_, i) => ({
        mode: "url", message: `Step ${i}`, url: `${base}/step/flood-${i}`, elicitationId: `flood-${i}` }));
      throw new UrlElicitationRequiredError(items);
    });

  server.registerTool("peer_requests", { description: "Asks with many elicitation/create (url) at once.",
    inputSchema: { n: z.number() } },
    async ({ n }) => {
      count("peer_requests");
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => {
        const id = `many-${i}-${randomUUID()}`;
        owners[id] = server.server;
        return server.server.elicitInput({
          mode: "url", message: `Request ${i}`, url: `${base}/step/${id}`, elicitationId: id });
      }));
      return { content: [{ type: "text", text: answers.map((a) => a.action).join(",") }] };
    });

  server.registerTool("peer_link", { description: "Needs a browser step at a link given by the test (-32042).",
    inputSchema: { url: z.string() } },
    async ({ url }) => {
      count("peer_link");
      throw new UrlElicitationRequiredError([
        { mode: "url", message: "Finish this step in your browser.", url, elicitationId: `link-${randomUUID()}` },
      ]);
    });

  server.registerTool("peer_counts", { description: "How often each tool ran.", inputSchema: {} },
    async () => ({ content: [{ type: "text", text: JSON.stringify(counts) }] }));

  return server;
}

const app = createMcpExpressApp({ host: "127.0.0.1" });

app.post("/mcp", async (req, res) => {
  const sid = req.headers["mcp-session-id"];
  let transport = sid ? transports[sid] : undefined;
  if (!transport && isInitializeRequest(req.body)) {
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => { transports[id] = transport; },
    });
    await buildServer().connect(transport);
  }
  if (!transport) return res.status(400).json({ jsonrpc: "2.0", error: { code: -32000, message: "no session" }, id: null });
  await transport.handleRequest(req, res, req.body);
});
for (const method of ["get", "delete"]) {
  app[method]("/mcp", async (req, res) => {
    const transport = transports[req.headers["mcp-session-id"]];
    if (!transport) return res.status(400).send("no session");
    await transport.handleRequest(req, res);
  });
}

// The "browser step": visiting the page finishes it, and the session that asked is notified.
app.get("/step/:id", async (req, res) => {
  const id = req.params.id;
  done.add(id);
  const owner = owners[id];
  if (owner) await owner.createElicitationCompletionNotifier(id)();
  res.send(`step ${id} done`);
});
// A misbehaving server: notices for an unknown id, and the same id twice.
app.post("/spurious/:id", async (req, res) => {
  const owner = owners[req.params.id];
  if (owner) {
    await owner.createElicitationCompletionNotifier("never-issued")();
    await owner.createElicitationCompletionNotifier(req.params.id)();
    await owner.createElicitationCompletionNotifier(req.params.id)();
  }
  res.json({ sent: Boolean(owner) });
});

app.listen(port, "127.0.0.1", () => console.log(`ts-peer listening on ${port}`));

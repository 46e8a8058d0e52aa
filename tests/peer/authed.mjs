// An MCP server written with the TypeScript SDK (1.x) behind the SDK's own authorization server
// (mcpAuthRouter, with the SDK's in-memory demo provider: it signs in whoever asks, and registers
// clients the SDK's way: a client that does not ask to be public gets a client_secret).
// Usage: node authed.mjs PORT. MCP at /mcp (stateless streamable HTTP), OAuth at the root.
import express from "express";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { mcpAuthRouter, getOAuthProtectedResourceMetadataUrl } from "@modelcontextprotocol/sdk/server/auth/router.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { DemoInMemoryAuthProvider } from "@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js";

const port = Number(process.argv[2]);
const base = new URL(`http://127.0.0.1:${port}`);
const mcpUrl = new URL("/mcp", base);
const provider = new DemoInMemoryAuthProvider();
const registered = [];  // how each client registered: its token_endpoint_auth_method, whether it got a secret
const store = provider.clientsStore;
const register = store.registerClient.bind(store);
store.registerClient = async (client) => {
  registered.push({ method: client.token_endpoint_auth_method ?? null, secret: Boolean(client.client_secret) });
  return register(client);
};

const app = express();
app.use(express.json());
app.use(mcpAuthRouter({ provider, issuerUrl: base, resourceServerUrl: mcpUrl }));
const auth = requireBearerAuth({ verifier: provider, resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl) });
app.post("/mcp", auth, async (req, res) => {
  const server = new McpServer({ name: "ts-authed", version: "1.0.0" });
  server.registerTool("whoami", { description: "The client the token was issued to.", annotations: { readOnlyHint: true } },
    async (extra) => ({ content: [{ type: "text", text: `client ${extra.authInfo?.clientId}` }] }));
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on("close", () => { transport.close(); server.close(); });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.get("/registered", (_req, res) => res.json(registered));
app.listen(port, "127.0.0.1", () => console.log(`ts-authed listening on ${port}`));

// A terminal MCP client written with the TypeScript SDK 2.x (`@modelcontextprotocol/client`), for
// `handoff check client` tests. Usage: node client2.mjs URL [TOOL]. It negotiates the era ('auto':
// server/discover first, initialize for a 2025-11-25 server), declares url mode elicitation, asks on
// the terminal before it opens a link (with $BROWSER), refuses links that are not http(s), and on
// 2025-11-25 retries a call once after the completion notice of each -32042 elicitation (waiting at
// most $PEER_WAIT seconds, 10 by default). On 2026-07-28 the SDK answers each InputRequiredResult
// through the same elicitation handler and retries by itself.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Client, ProtocolErrorCode, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const [url, tool = "check"] = process.argv.slice(2);
const waitSeconds = Number(process.env.PEER_WAIT || 10);
const lines = createInterface({ input: process.stdin, output: process.stdout, terminal: false });
const pending = new Map(); // elicitation id -> resolve, for the ids this client opened
const completed = new Set();

function ask(question) {
  return new Promise((resolve) => {
    process.stdout.write(question);
    lines.once("line", (line) => resolve(line.trim().toLowerCase()));
    lines.once("close", () => resolve(""));
  });
}

function openInBrowser(link) {
  const parts = (process.env.BROWSER || "xdg-open %s").split(" ").filter(Boolean);
  const command = parts.map((p) => p.replace("%s", link));
  if (!parts.some((p) => p.includes("%s"))) command.push(link);
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), { stdio: "ignore" });
    child.on("exit", resolve);
    child.on("error", resolve);
  });
}

async function consentAndOpen(server, params) {
  let scheme;
  try {
    scheme = new URL(params.url).protocol;
  } catch {
    scheme = "invalid";
  }
  if (scheme !== "https:" && scheme !== "http:") {
    console.log(`${server} sent a ${scheme} link; only web links are opened, so it was declined.`);
    return "decline";
  }
  console.log(`${server} asks you to open a link in your browser.`);
  console.log(`  Reason: ${params.message}`);
  console.log(`  Link: ${params.url}`);
  const answer = await ask("Open it? [y/N] ");
  if (answer !== "y" && answer !== "yes") return "decline";
  await openInBrowser(params.url);
  return "accept";
}

function waitForNotice(id) {
  if (completed.has(id)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), waitSeconds * 1000);
    pending.set(id, () => { clearTimeout(timer); resolve(true); });
  });
}

const client = new Client(
  { name: "ts2-peer-client", version: "1.0.0" },
  { capabilities: { elicitation: { url: {} } }, versionNegotiation: { mode: "auto" } },
);
const serverName = () => `${client.getServerVersion()?.name ?? "The server"} (${url})`;

client.setRequestHandler("elicitation/create", async (request) => {
  return { action: await consentAndOpen(serverName(), request.params) };
});

client.setNotificationHandler("notifications/elicitation/complete", (notification) => {
  const id = notification.params.elicitationId;
  const resolve = pending.get(id);
  if (!resolve || completed.has(id)) return; // unknown or already completed: ignored
  completed.add(id);
  pending.delete(id);
  resolve();
});

async function callWithRetry() {
  const seen = new Set();
  for (let round = 0; round < 4; round++) {
    try {
      return await client.callTool({ name: tool, arguments: {} });
    } catch (error) {
      if (error.code !== ProtocolErrorCode.UrlElicitationRequired || round === 3) throw error;
      const items = error.data?.elicitations ?? [];
      if (items.some((item) => seen.has(item.elicitationId))) throw new Error("the server asked again for a step already opened");
      const waits = [];
      for (const item of items) {
        seen.add(item.elicitationId);
        const notice = waitForNotice(item.elicitationId);
        if ((await consentAndOpen(serverName(), item)) !== "accept") throw new Error("declined, so the tool was not run");
        waits.push(notice);
      }
      if (!(await Promise.all(waits)).every(Boolean)) throw new Error(`no completion notice within ${waitSeconds} s`);
    }
  }
  throw new Error("too many rounds");
}

let code = 0;
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const result = await callWithRetry();
  console.log(result.content?.map((c) => c.text).join("\n"));
} catch (error) {
  console.log(`Not run: ${error.message}`);
  code = 1;
} finally {
  lines.close();
  await client.close().catch(() => {});
}
process.exit(code);

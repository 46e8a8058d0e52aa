// A real OpenID Connect provider (oidc-provider) for handoff's tests, on loopback.
// Usage: node oidc.mjs PORT CONFIG_JSON
//   CONFIG_JSON: {"clients": [{client_id, client_secret, redirect_uris}], "accessTokenTtl": seconds,
//                 "resource": "http://127.0.0.1:N/mcp" (optional: JWT access tokens for that audience)}
// Dev interactions are on: any user name signs in (it becomes `sub`), then a consent screen.
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const config = JSON.parse(process.argv[3] || "{}");
const issuer = `http://127.0.0.1:${port}`;
const refreshes = {};

const provider = new Provider(issuer, {
  clients: (config.clients || []).map((c) => ({
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    ...c,
  })),
  pkce: { required: () => true },
  scopes: ["openid", "offline_access", "profile", "email", "repo", "calendar"],
  claims: { openid: ["sub"], email: ["email"], profile: ["name"] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: Boolean(config.resource),
      defaultResource: () => config.resource,
      getResourceServerInfo: () => ({ scope: "openid profile email", audience: config.resource,
        accessTokenFormat: "jwt", accessTokenTTL: config.accessTokenTtl || 3600 }),
      useGrantedResource: () => true,
    },
  },
  ttl: { AccessToken: config.accessTokenTtl || 3600, RefreshToken: 86400, Session: 3600, Interaction: 600,
         Grant: 86400 },
  issueRefreshToken: () => true,
  rotateRefreshToken: true,
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, name: id }),
  }),
});
provider.proxy = false;
provider.on("grant.success", (ctx) => {
  if (ctx.oidc.params?.grant_type === "refresh_token") {
    refreshes[ctx.oidc.client.clientId] = (refreshes[ctx.oidc.client.clientId] || 0) + 1;
  }
});
// Test hook: how many refresh grants each client made.
provider.use(async (ctx, next) => {
  if (ctx.path === "/test/refreshes") { ctx.body = refreshes; return; }
  await next();
});
provider.listen(port, "127.0.0.1", () => console.log(`oidc listening on ${port}`));

// A real OpenID provider for the SSO tests: panva's oidc-provider (OpenID-certified),
// on 127.0.0.1, with static users read from a JSON file at every login (so a test can
// change someone's groups), a Dex-like `groups` claim released for the `groups` scope,
// PKCE required (S256), and a plain login form of its own (no script, no internet).
//
//   node provider.mjs CONFIG.json
// CONFIG: {"port", "clients": [{client_id, client_secret, redirect_uris,
//          post_logout_redirect_uris, token_endpoint_auth_method}], "users": "users.json"}
// users.json: {"<username>": {"password", "sub", "email", "email_verified", "name",
//              "groups": [...]}}
// Prints "ready <issuer>" once it listens.
import { readFileSync } from "node:fs";
import http from "node:http";

// The package is installed beside the @sentry/node client (tests/e2e/node).
import Provider from "../node/node_modules/oidc-provider/lib/index.js";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const issuer = `http://127.0.0.1:${config.port}`;
const users = () => JSON.parse(readFileSync(config.users, "utf8"));
const bySub = (sub) => Object.values(users()).find((u) => u.sub === sub);

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ["authorization_code"],
    response_types: ["code"],
    ...c,
  })),
  pkce: { required: () => true },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups"],
  },
  // Like Dex: the requested claims are in the ID token, not only behind userinfo.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ["tracehound-tests-only"] },
  async findAccount(ctx, sub) {
    const user = bySub(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: user.email,
          email_verified: user.email_verified,
          name: user.name,
          preferred_username: user.username,
          groups: user.groups,
        };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, message) {
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><title>Test provider login</title>
<h1>Sign in to the test provider</h1>
${message ? `<p class="error">${escape(message)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="username" autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button>
</form>`);
}

async function readForm(req) {
  let body = "";
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === "GET" && prompt.name === "login") {
    return loginPage(res, uid);
  }
  let accountId = details.session?.accountId;
  if (prompt.name === "login") {
    const form = await readForm(req);
    const user = users()[form.get("username")];
    if (!user || user.password !== form.get("password")) {
      return loginPage(res, uid, "Invalid username or password.");
    }
    accountId = user.sub;
  }
  // A first-party client: consent is given with the login.
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId },
    consent: { grantId },
  });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interaction(req, res).catch((err) => {
      res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(String(err));
    });
    return;
  }
  callback(req, res);
});
server.listen(config.port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
process.on("SIGTERM", () => process.exit(0));

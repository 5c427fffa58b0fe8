// A real OpenID Connect provider (panva's oidc-provider, OpenID Certified) for the external
// issuer tests (tests/auth/test_oidc_provider_http.py). Started by the test with one
// argument, a JSON file:
//
//   {"port": 4100, "issuer": "http://127.0.0.1:4100", "admin_token": "...",
//    "resources": {"https://api.strongroom.test": {"scope": "weapons:lookup ..."}},
//    "clients": [{"client_id": "...", "client_secret": "...", "scope": "...",
//                 "roles": ["gendarme"], "purpose": "investigation", "ttl": 3600,
//                 "dpop_bound_access_tokens": true}],
//    "accounts": [{"id": "...", "password": "...", "roles": ["gendarme"],
//                  "purpose": "police_check"}],
//    "apps": [{"client_id": "console", "redirect_uri": "http://127.0.0.1/cb",
//              "scope": "openid weapons:lookup"}]}
//
// `clients` use client_credentials (their tokens' `sub` is the client's ID); `apps` are
// public clients signing `accounts` in with authorization_code + PKCE S256 (a password
// checked by the interaction below; first-party, so no consent screen). Access tokens are
// RFC 9068 JWTs for the resource indicator asked for (RFC 8707), signed ES256,
// DPoP-bound when asked, carrying the roles and purpose the way Keycloak mappers would
// (`realm_access.roles`, `purpose`) and, for a signed-in account, the provider's session
// (`sid`) as Keycloak's do. POST /_test/rotate (with the admin token) puts a new signing
// key in front: the old one stays published, as a provider keeps it until the tokens it
// signed have expired. POST /_test/sign (admin token, a JSON object of claims) signs those
// claims with the provider's current key as an access token: a token the provider's key
// vouches for whatever it claims, e.g. another issuer's `iss`.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

import Provider from 'oidc-provider';
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byClient = new Map(config.clients.map((c) => [c.client_id, c]));
const byAccount = new Map((config.accounts ?? []).map((a) => [a.id, a]));
const apps = config.apps ?? [];

async function newKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' };
}

function build(keys) {
  const provider = new Provider(config.issuer, {
    jwks: { keys },
    clients: [
      ...config.clients.map((c) => ({
        client_id: c.client_id,
        client_secret: c.client_secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: c.scope,
        token_endpoint_auth_method: 'client_secret_post',
        dpop_bound_access_tokens: Boolean(c.dpop_bound_access_tokens),
      })),
      ...apps.map((a) => ({
        client_id: a.client_id,
        grant_types: ['authorization_code'],
        redirect_uris: [a.redirect_uri],
        response_types: ['code'],
        scope: a.scope,
        token_endpoint_auth_method: 'none',
        dpop_bound_access_tokens: true,
      })),
    ],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    scopes: [...new Set([...config.clients, ...apps].flatMap((c) => c.scope.split(' ')))],
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      if (!byAccount.has(id)) return undefined;
      return { accountId: id, claims: () => ({ sub: id }) };
    },
    async loadExistingGrant(ctx) {
      // First-party apps: what the app asks for is granted, without a consent screen.
      const { client, session, params } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (!session.accountId || !apps.some((a) => a.client_id === client.clientId)) {
        return undefined;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      // The provider lists the API's scopes among its own (client_credentials needs them
      // there), so they are granted both ways.
      grant.addOIDCScope(String(params.scope ?? 'openid'));
      const asked = String(params.scope ?? '').split(' ').filter((x) => x && x !== 'openid');
      for (const resource of [params.resource ?? []].flat()) {
        grant.addResourceScope(resource, asked.join(' '));
      }
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: false }, // the sign-in below checks a password
      clientCredentials: { enabled: true },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        getResourceServerInfo(ctx, resource, client) {
          const server = config.resources[resource];
          if (!server) throw new Provider.errors.InvalidTarget();
          return {
            scope: server.scope,
            audience: resource,
            accessTokenTTL: byClient.get(client.clientId)?.ttl ?? config.ttl ?? 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    extraTokenClaims(ctx, token) {
      const account = token.accountId && byAccount.get(token.accountId);
      if (account) {
        return { realm_access: { roles: account.roles }, purpose: account.purpose, sid: token.sid ?? token.sessionUid };
      }
      const client = byClient.get(token.clientId);
      if (!client) return undefined;
      return { realm_access: { roles: client.roles }, purpose: client.purpose };
    },
  });
  return provider;
}

let keys = [await newKey()];
let current = build(keys);
let handle = current.callback();

async function form(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return Object.fromEntries(new URLSearchParams(text));
}

// The sign-in step of the authorization code flow: GET says what is asked; POST with
// `login` and `password` signs the account in (a wrong password ends the flow with
// access_denied at the app's redirect URI).
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ prompt: details.prompt.name, details: details.prompt.details }));
    return;
  }
  const { login, password } = await form(req);
  const account = byAccount.get(login);
  const result = account && account.password === password
    ? { login: { accountId: login } }
    : { error: 'access_denied', error_description: 'sign-in failed' };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const server = createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(current, req, res).catch((err) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: err.name, message: err.message }));
    });
    return;
  }
  if (req.url === '/_test/rotate' && req.method === 'POST') {
    if (req.headers.authorization !== `Bearer ${config.admin_token}`) {
      res.writeHead(403).end();
      return;
    }
    newKey().then((key) => {
      keys = [key, ...keys];
      current = build(keys);
      handle = current.callback();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kid: key.kid }));
    });
    return;
  }
  if (req.url === '/_test/sign' && req.method === 'POST') {
    if (req.headers.authorization !== `Bearer ${config.admin_token}`) {
      res.writeHead(403).end();
      return;
    }
    (async () => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const [key] = keys;
      const token = await new SignJWT(JSON.parse(text))
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
        .sign(await importJWK(key, 'ES256'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token }));
    })().catch((err) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: err.name, message: err.message }));
    });
    return;
  }
  handle(req, res);
});

server.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider ${config.issuer} listening`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

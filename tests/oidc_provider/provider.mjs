// A real OpenID Connect provider (panva's oidc-provider, OpenID Certified) for the external
// issuer tests (tests/auth/test_oidc_provider_http.py). Started by the test with one
// argument, a JSON file:
//
//   {"port": 4100, "issuer": "http://127.0.0.1:4100", "admin_token": "...", "ttl": 300,
//    "resources": {"https://api.strongroom.test": {"scope": "weapons:lookup ..."}},
//    "clients": [{"client_id": "...", "client_secret": "...", "scope": "...",
//                 "roles": ["gendarme"], "purpose": "investigation", "ttl": 3600,
//                 "dpop_bound_access_tokens": true}]}
//
// Access tokens are RFC 9068 JWTs for the resource indicator asked for (RFC 8707), signed
// ES256, carrying the client's realm roles and purpose the way Keycloak mappers would
// (`realm_access.roles`, `purpose`). POST /_test/rotate (with the admin token) puts a new
// signing key in front: the old one stays published, as a provider keeps it until the
// tokens it signed have expired.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byClient = new Map(config.clients.map((c) => [c.client_id, c]));

async function newKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' };
}

function build(keys) {
  const provider = new Provider(config.issuer, {
    jwks: { keys },
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: c.scope,
      token_endpoint_auth_method: 'client_secret_post',
      dpop_bound_access_tokens: Boolean(c.dpop_bound_access_tokens),
    })),
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    scopes: [...new Set(config.clients.flatMap((c) => c.scope.split(' ')))],
    features: {
      devInteractions: { enabled: false },
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
      const client = byClient.get(token.clientId);
      if (!client) return undefined;
      return { realm_access: { roles: client.roles }, purpose: client.purpose };
    },
  });
  return provider.callback();
}

let keys = [await newKey()];
let handle = build(keys);

const server = createServer((req, res) => {
  if (req.url === '/_test/rotate' && req.method === 'POST') {
    if (req.headers.authorization !== `Bearer ${config.admin_token}`) {
      res.writeHead(403).end();
      return;
    }
    newKey().then((key) => {
      keys = [key, ...keys];
      handle = build(keys);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kid: key.kid }));
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

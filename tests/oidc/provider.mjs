// The OpenID provider pactum's sign-in tests run against: oidc-provider (the
// OpenID-certified package, pinned in package.json), configured like EGI
// Check-in where it matters: the ID token carries only `sub`; entitlements
// (`eduperson_entitlement`), `voperson_id` and `email` come from UserInfo.
//
//   node provider.mjs PORT CONFIG.json
//
// CONFIG: {"client_id", "client_secret", "redirect_uris": [...],
//          "post_logout_redirect_uris": [...], "accounts": {id: {claims}},
//          "access_token_ttl": seconds}
// Prints "ready <issuer>" on stdout once it listens.
//
// For the refusal tests only, `POST /test/tamper {"mode": ...}` makes the next
// token response carry an ID token with one defect, signed with the
// provider's own key unless the defect is the signature: `signature`,
// `expired`, `audience`, `issuer`, `nonce`, `kid` (an unknown key id, signed by
// a key the provider never published), `rotated` (signed by a second key, which
// `POST /test/rotate` has added to the published keys). `POST /test/mint
// {claims}` signs a JWT with the provider's key, to send pactum as a bearer
// token.

import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
import { SignJWT, importJWK, decodeJwt } from 'jose';

const [port, configPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;

function rsaKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}
const signing = rsaKey('pactum-test-1');
const stranger = rsaKey('never-published');

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris ?? [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signing] },
  claims: {
    openid: ['sub'],
    email: ['email'],
    eduperson_entitlement: ['eduperson_entitlement'],
    voperson_id: ['voperson_id'],
  },
  scopes: ['openid', 'email', 'eduperson_entitlement', 'voperson_id'],
  pkce: { required: () => true },
  // Expiry is exact: tests let tokens expire in seconds.
  clockTolerance: 0,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: {
    AccessToken: config.access_token_ttl ?? 600,
    IdToken: 600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 600,
    Grant: 600,
  },
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  // Consent is given: the test client is first-party.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email eduperson_entitlement voperson_id');
    await grant.save();
    return grant;
  },
});

let tamper = null;
let rotated = false;

function publicKey(key) {
  const { d, p, q, dp, dq, qi, ...rest } = key;
  return rest;
}

async function sign(claims, key = signing) {
  const private_ = await importJWK(key, 'RS256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' }).sign(private_);
}

async function readJson(ctx) {
  let raw = '';
  for await (const chunk of ctx.req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}

provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/test/tamper') {
    tamper = (await readJson(ctx)).mode;
    ctx.body = { tamper };
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/test/rotate') {
    rotated = true;
    ctx.body = { rotated };
    return;
  }
  if (ctx.method === 'GET' && ctx.path === '/jwks' && rotated) {
    ctx.type = 'application/jwk-set+json';
    ctx.body = { keys: [publicKey(signing), publicKey(stranger)] };
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/test/mint') {
    const { claims, unknown_key } = await readJson(ctx);
    ctx.body = { token: await sign(claims, unknown_key ? stranger : signing) };
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && tamper && ctx.body?.id_token) {
    const mode = tamper;
    tamper = null;
    const claims = decodeJwt(ctx.body.id_token);
    const now = Math.floor(Date.now() / 1000);
    let key = signing;
    let token;
    switch (mode) {
      case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
      case 'audience': claims.aud = 'someone-else'; break;
      case 'issuer': claims.iss = 'http://127.0.0.1:1/not-the-issuer'; break;
      case 'nonce': claims.nonce = 'not-the-nonce'; break;
      case 'kid': key = stranger; break;
      case 'rotated': key = stranger; break;
      case 'signature': break;
      default: throw new Error(`unknown tamper mode ${mode}`);
    }
    token = await sign(claims, key);
    if (mode === 'signature') {
      const [header, , signature] = token.split('.');
      const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url');
      token = `${header}.${forged}.${signature}`;
    }
    ctx.body = { ...ctx.body, id_token: token };
  }
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});

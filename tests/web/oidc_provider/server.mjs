// A real OpenID Connect provider for the web app's Entra ID sign-in tests.
//
// panva/oidc-provider (certified by the OpenID Foundation) configured like an Entra ID app
// registration: one confidential client, PKCE required, RS256 ID tokens carrying the user's app
// roles in a `roles` claim next to `name` and `preferred_username`. Its development login form
// takes any user name that is in CONFIG.users (the password is ignored); consent is implied, as
// with an admin-consented Entra app. Started by tests/web/oidc.py with one JSON argument:
//   {"port": 1234, "client_id": "…", "client_secret": "…", "redirect_uris": ["…"],
//    "users": {"anna": {"name": "Anna …", "roles": ["Avsteg.Handlaggare"]}, …}}
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${config.port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signing] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  // Entra ID puts the app roles in the ID token whatever the scopes: so does this provider.
  claims: { openid: ['sub', 'roles'], profile: ['name', 'preferred_username'] },
  conformIdTokenClaims: false,
  ttl: { IdToken: 300, AccessToken: 300, AuthorizationCode: 60, Session: 600, Interaction: 600, Grant: 600 },
  async findAccount(ctx, id) {
    const user = config.users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: user.name, preferred_username: `${id}@example.test`, roles: user.roles };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
});

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});

// A local Cognito identity pool, for the enhanced (simplified) flow that browser SDKs use:
// GetId, then GetCredentialsForIdentity. It accepts only ID tokens from the template's user
// pool and app client, verified as the service verifies them (jose: the signature against the
// pool's published keys, the issuer, the audience, token_use, the expiry), and maps claims to
// session tags exactly as the template's AWS::Cognito::IdentityPoolPrincipalTag says.
// Guests (no login), where the pool allows them, get the unauthenticated role narrowed by
// Cognito's own session policy, as the service does.
import { randomBytes, randomUUID } from 'node:crypto'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { ACCOUNT, simulate } from './policies.mjs'

export class ServiceError extends Error {
  constructor(code, message) {
    super(message)
    this.code = code
  }
}

// The tags Cognito maps when UseDefaults is true: "default (username and clientID) attribute
// mappings" (Cognito Identity API reference, SetPrincipalTagAttributeMap); for a user pool
// token those are its sub and its aud.
const DEFAULT_TAGS = { username: 'sub', client: 'aud' }
// What STS accepts in a session tag value; anything else fails the role assumption.
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u

// In the enhanced flow, a guest's credentials are the intersection of the unauthenticated role
// with this Cognito-owned managed policy (AWS managed policy reference,
// AmazonCognitoUnAuthedIdentitiesSessionPolicy, version v3): no dynamodb:* and no
// execute-api:*, so no guest role can read the tenant table or call the tenant API.
export const GUEST_SESSION_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'CognitoUnAuthedIdentitiesSessionPolicy',
      Effect: 'Allow',
      Action: [
        'rum:PutRumEvents',
        'sagemaker:InvokeEndpoint',
        'polly:*',
        'comprehend:*',
        'translate:*',
        'transcribe:*',
        'rekognition:*',
        'mobiletargeting:*',
        'firehose:*',
        'personalize:*',
        'geo:GetMap*',
        'geo:SearchPlaceIndex*',
        'geo:GetPlace',
        'geo:CalculateRoute*',
        'geo:*Geofence',
        'geo:*Geofences',
        'geo:*DevicePosition*',
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncryptTo',
        'kms:ReEncryptFrom',
        'kms:GenerateDataKey',
        'kms:GenerateDataKeyPair',
        'kms:GenerateDataKeyPairWithoutPlaintext',
        'kms:GenerateDataKeyWithoutPlaintext',
      ],
      Resource: '*',
    },
  ],
}

// Whether a session may make the request: its role's policies allow it and, where the session
// carries a session policy, that policy allows it too (IAM: the effective permissions of a
// session are the intersection).
export async function sessionAllows(rolePolicies, session, request) {
  const byRole = await simulate(rolePolicies, request)
  if (!byRole.allowed || !session.sessionPolicy) return byRole
  return simulate([{ name: 'session-policy', policy: session.sessionPolicy }], request)
}

export class IdentityPool {
  // settings: local/stack.py identity-pool; issuerOf(poolId): the user pool's
  // issuer URL, which publishes <issuer>/.well-known/jwks.json.
  // trustOf(role): the role's trust policy, resolved.
  // sessions, identities, byUser: the state it issues into, given by the caller so that it
  // outlives a change of settings (local/reload-iam.sh), as a real pool's identities do.
  constructor(
    settings,
    { issuerOf, trustOf, sessions, identities = new Map(), byUser = new Map(), sessionSeconds = 3600 },
  ) {
    this.settings = settings
    this.trustOf = trustOf
    this.sessions = sessions
    this.sessionSeconds = sessionSeconds
    this.identities = identities // identityId -> { provider, sub }
    this.byUser = byUser // `${provider} ${sub}` -> identityId
    this.providers = new Map(
      settings.Providers.map(({ ProviderName, ClientId }) => {
        const poolId = ProviderName.split('/').pop()
        const issuer = issuerOf(poolId)
        return [
          ProviderName,
          { clientId: ClientId, issuer, keys: createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)) },
        ]
      }),
    )
  }

  async handle(operation, body) {
    if (body.IdentityPoolId !== undefined && body.IdentityPoolId !== this.settings.IdentityPoolId) {
      throw new ServiceError('ResourceNotFoundException', `IdentityPool '${body.IdentityPoolId}' not found.`)
    }
    if (operation === 'GetId') return this.getId(body)
    if (operation === 'GetCredentialsForIdentity') return this.credentialsFor(body)
    if (operation === 'GetOpenIdToken' && !this.settings.AllowClassicFlow) {
      throw new ServiceError(
        'InvalidParameterException',
        'Basic (classic) flow is not enabled, please use enhanced flow.',
      )
    }
    throw new ServiceError('InvalidParameterException', `${operation} is not offered by the local identity pool`)
  }

  async getId(body) {
    if (body.IdentityPoolId === undefined)
      throw new ServiceError('InvalidParameterException', 'IdentityPoolId is required')
    if (this.isGuest(body.Logins)) {
      const identityId = `${this.settings.IdentityPoolId.split(':')[0]}:${randomUUID()}`
      this.identities.set(identityId, { guest: true })
      return { IdentityId: identityId }
    }
    const login = await this.login(body.Logins)
    const key = `${login.provider} ${login.claims.sub}`
    let identityId = this.byUser.get(key)
    if (!identityId) {
      identityId = `${this.settings.IdentityPoolId.split(':')[0]}:${randomUUID()}`
      this.byUser.set(key, identityId)
      this.identities.set(identityId, { provider: login.provider, sub: login.claims.sub })
    }
    return { IdentityId: identityId }
  }

  async credentialsFor(body) {
    const identity = this.identities.get(body.IdentityId)
    if (!identity) throw new ServiceError('ResourceNotFoundException', 'Identity not found.')
    if (identity.guest && this.isGuest(body.Logins)) return this.guestCredentials(body)
    const login = await this.login(body.Logins)
    if (login.provider !== identity.provider || login.claims.sub !== identity.sub) {
      throw new ServiceError(
        'NotAuthorizedException',
        'Invalid login token. The token does not belong to this identity.',
      )
    }
    const role = this.settings.Roles.authenticated
    if (!role) throw new ServiceError('InvalidIdentityPoolConfigurationException', 'No authenticated role is attached.')
    const tags = this.tagsFrom(login.claims)
    const amr = ['authenticated', login.provider, `${login.provider}:CognitoSignIn:${login.claims.sub}`]
    await this.assumeRole(role, amr, tags)
    return this.issue(body.IdentityId, { role, tags, provider: login.provider, sub: login.claims.sub })
  }

  // No login: a guest, where the pool allows guests and has a role for them.
  isGuest(logins) {
    if (Object.keys(logins ?? {}).length > 0) return false
    if (!this.settings.AllowUnauthenticatedIdentities) {
      throw new ServiceError(
        'NotAuthorizedException',
        'Unauthenticated access is not supported for this identity pool.',
      )
    }
    return true
  }

  async guestCredentials(body) {
    const role = this.settings.Roles.unauthenticated
    if (!role)
      throw new ServiceError('InvalidIdentityPoolConfigurationException', 'No unauthenticated role is attached.')
    await this.assumeRole(role, ['unauthenticated'], {})
    return this.issue(body.IdentityId, { role, tags: {}, sessionPolicy: GUEST_SESSION_POLICY })
  }

  issue(identityId, session) {
    const expiration = Math.floor(Date.now() / 1000) + this.sessionSeconds
    const credentials = {
      AccessKeyId: `ASIA${randomBytes(12).toString('hex').toUpperCase().slice(0, 16)}`,
      SecretKey: randomBytes(30).toString('base64'),
      SessionToken: randomBytes(48).toString('base64'),
      Expiration: expiration,
    }
    this.sessions.set(credentials.AccessKeyId, {
      secretAccessKey: credentials.SecretKey,
      sessionToken: credentials.SessionToken,
      expiresAt: expiration * 1000,
      sessionName: `CognitoIdentityCredentials`,
      identityId,
      identityPoolId: this.settings.IdentityPoolId,
      ...session,
    })
    return { IdentityId: identityId, Credentials: credentials }
  }

  // The enhanced flow assumes the role with AssumeRoleWithWebIdentity, passing the tags; STS
  // allows that only if the role's trust policy does, for both actions. The simulator decides
  // both. Its action data lists no cognito-identity.amazonaws.com keys for sts:TagSession, so
  // it would drop them from a TagSession request and miss the statement's conditions; it is
  // asked instead whether the statements that grant sts:TagSession, read as granting the
  // assumption, allow this identity.
  async assumeRole(role, amr, tags) {
    const trust = this.trustOf(role)
    const request = {
      principal: 'cognito-identity.amazonaws.com',
      resource: `arn:aws:iam::${ACCOUNT}:role/${role}`,
      contextVariables: {
        'cognito-identity.amazonaws.com:aud': this.settings.IdentityPoolId,
        'cognito-identity.amazonaws.com:amr': amr,
      },
    }
    const action = 'sts:AssumeRoleWithWebIdentity'
    const checks = [{ action, resourcePolicy: trust }]
    if (Object.keys(tags).length > 0) {
      const grantsTagging = (statement) =>
        [statement.Action].flat().some((a) => a === 'sts:TagSession' || a === 'sts:*' || a === '*')
      const statements = [trust.Statement]
        .flat()
        .filter(grantsTagging)
        .map((statement) => ({ ...statement, Action: action }))
      checks.push({ action, resourcePolicy: { ...trust, Statement: statements } })
    }
    for (const check of checks) {
      const decision =
        check.resourcePolicy.Statement.length === 0 ? { allowed: false } : await simulate([], { ...request, ...check })
      if (!decision.allowed) {
        throw new ServiceError(
          'InvalidIdentityPoolConfigurationException',
          'Invalid identity pool configuration. Check assigned IAM roles for this pool.',
        )
      }
    }
  }

  // Exactly one login, from a provider of this pool, whose ID token the provider signed.
  async login(logins) {
    const entries = Object.entries(logins ?? {})
    if (entries.length === 0)
      throw new ServiceError('NotAuthorizedException', 'A guest identity takes no login; a signed-in one needs one.')
    if (entries.length > 1) throw new ServiceError('InvalidParameterException', 'One login at a time, locally.')
    const [[provider, token]] = entries
    const known = this.providers.get(provider)
    if (!known)
      throw new ServiceError(
        'NotAuthorizedException',
        `Invalid login token. ${provider} is not a provider of this identity pool.`,
      )
    let claims
    try {
      ;({ payload: claims } = await jwtVerify(token, known.keys, {
        issuer: known.issuer,
        audience: known.clientId,
        algorithms: ['RS256'],
        requiredClaims: ['sub', 'exp', 'token_use'],
      }))
    } catch (err) {
      throw new ServiceError(
        'NotAuthorizedException',
        `Invalid login token. ${err.code ?? 'ERR_JWT_INVALID'}: ${err.message}`,
      )
    }
    if (claims.token_use !== 'id') {
      throw new ServiceError('NotAuthorizedException', 'Invalid login token. Not an ID token.')
    }
    return { provider, claims }
  }

  // A missing claim gives no tag, never an error; a value STS would refuse fails the call.
  tagsFrom(claims) {
    const { Map: map, UseDefaults: useDefaults } = this.settings.PrincipalTags
    const wanted = useDefaults ? DEFAULT_TAGS : map
    const tags = {}
    for (const [tag, claim] of Object.entries(wanted)) {
      const value = claims[claim]
      if (value === undefined || value === null) continue
      const text = typeof value === 'string' ? value : String(value)
      if (!TAG_VALUE.test(text)) {
        throw new ServiceError(
          'InvalidParameterException',
          `The claim ${claim} cannot be the value of session tag ${tag}.`,
        )
      }
      tags[tag] = text
    }
    return tags
  }
}

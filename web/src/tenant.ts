// The data path: the user pool for tokens, the identity pool for credentials, DynamoDB for data.

import { Sha256 } from '@aws-crypto/sha256-js'
import {
  CognitoIdentityProviderClient,
  ConfirmSignUpCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider'
import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
import { SignatureV4 } from '@smithy/signature-v4'
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
  type CognitoUserSession,
  type ICognitoStorage,
} from 'amazon-cognito-identity-js'
import type { AppConfig } from './config'

export type Item = Record<string, AttributeValue>

export class Account {
  private readonly cognito: CognitoIdentityProviderClient
  constructor(private readonly config: AppConfig) {
    this.cognito = new CognitoIdentityProviderClient({
      region: config.region,
      endpoint: config.endpoints?.cognitoIdentityProvider,
    })
  }

  async signUp(email: string, password: string): Promise<void> {
    await this.cognito.send(
      new SignUpCommand({
        ClientId: this.config.userPoolClientId,
        Username: email,
        Password: password,
        UserAttributes: [{ Name: 'email', Value: email }],
      }),
    )
  }

  async confirm(email: string, code: string): Promise<void> {
    await this.cognito.send(
      new ConfirmSignUpCommand({ ClientId: this.config.userPoolClientId, Username: email, ConfirmationCode: code }),
    )
  }

  // SRP (or password auth, where config.json says so), by AWS's own Cognito library: the
  // password never leaves the browser with SRP.
  async signIn(email: string, password: string): Promise<Session> {
    const pool = new CognitoUserPool({
      UserPoolId: this.config.userPoolId,
      ClientId: this.config.userPoolClientId,
      endpoint: this.config.endpoints?.cognitoIdentityProvider,
      Storage: memoryStorage(),
    })
    const user = new CognitoUser({ Username: email, Pool: pool, Storage: memoryStorage() })
    user.setAuthenticationFlowType(this.config.authFlow ?? 'USER_SRP_AUTH')
    const session = await new Promise<CognitoUserSession>((resolve, reject) =>
      user.authenticateUser(new AuthenticationDetails({ Username: email, Password: password }), {
        onSuccess: resolve,
        onFailure: reject,
        newPasswordRequired: () => reject(new Error('a new password is required: sign in elsewhere first')),
      }),
    )
    return new Session(this.config, user, session)
  }
}

// A signed-in user: the tenant their current token names, and the next token on demand (a
// refresh: pre token generation names the organisation they chose, if they still belong to it).
export class Session {
  tenant: Tenant
  constructor(
    private readonly config: AppConfig,
    private readonly user: CognitoUser,
    private session: CognitoUserSession,
  ) {
    this.tenant = new Tenant(config, session.getIdToken().getJwtToken())
  }

  async refresh(): Promise<Tenant> {
    this.session = await new Promise<CognitoUserSession>((resolve, reject) =>
      this.user.refreshSession(this.session.getRefreshToken(), (err, session) =>
        err ? reject(err) : resolve(session),
      ),
    )
    this.tenant = new Tenant(this.config, this.session.getIdToken().getJwtToken())
    return this.tenant
  }
}

// Tokens stay in memory, never in localStorage, where any script on the page could read them.
function memoryStorage(): ICognitoStorage {
  const items = new Map<string, string>()
  return {
    setItem: (key, value) => void items.set(key, value),
    getItem: (key) => items.get(key) ?? null,
    removeItem: (key) => void items.delete(key),
    clear: () => items.clear(),
  }
}

export interface Attempt {
  name: string
  request: string
  outcome: 'refused' | 'allowed'
  answer: string
}

export class Tenant {
  readonly org: string
  // The role the token carries in that organisation (org_role): owner, admin or member.
  readonly role: string
  readonly sub: string
  private readonly dynamodb: DynamoDBClient
  private readonly signer: SignatureV4
  constructor(
    private readonly config: AppConfig,
    idToken: string,
  ) {
    const claims = JSON.parse(atob(idToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
    this.org = claims['custom:org']
    this.role = claims.org_role
    this.sub = claims.sub
    const provider = `cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`
    // One set of identity-pool credentials for both: DynamoDB, and the API's AWS_IAM methods.
    const credentials = fromCognitoIdentityPool({
      identityPoolId: config.identityPoolId,
      logins: { [provider]: idToken },
      clientConfig: { region: config.region, endpoint: config.endpoints?.cognitoIdentity },
    })
    this.dynamodb = new DynamoDBClient({
      region: config.region,
      endpoint: config.endpoints?.dynamodb,
      maxAttempts: 1,
      credentials,
    })
    this.signer = new SignatureV4({ credentials, region: config.region, service: 'execute-api', sha256: Sha256 })
  }

  get hasApi(): boolean {
    return Boolean(this.config.apiUrl)
  }

  // A request to the tenant API, signed with the session's credentials; a body goes as JSON.
  // Throws with the API's message when it refuses.
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const url = new URL(`${this.config.apiUrl}${path}`)
    const text = body === undefined ? undefined : JSON.stringify(body)
    const signed = await this.signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, ...(text ? { 'content-type': 'application/json' } : {}), ...headers },
      body: text,
    })
    const { host: _host, ...signedHeaders } = signed.headers
    const response = await fetch(url, { method, headers: signedHeaders, body: text })
    const answer = await response.json()
    if (!response.ok) {
      // API Gateway says "message" in its gateway responses, "Message" in an IAM denial.
      throw Object.assign(new Error(answer.message ?? answer.Message ?? `HTTP ${response.status}`), {
        name: `HTTP ${response.status}`,
      })
    }
    return answer
  }

  // A GET of the tenant API. `fresh` asks API Gateway's cache for a new answer (Cache-Control:
  // max-age=0), which the tenant role may ask of its own organisation's entries only.
  async api(path: string, fresh = false): Promise<unknown> {
    return this.call('GET', path, undefined, fresh ? { 'cache-control': 'max-age=0' } : {})
  }

  // The organisation's notes: data any member reads and writes straight in DynamoDB, under
  // ORG#<org>#notes, which the tenant role lets members write.
  async notes(): Promise<Item[]> {
    return this.partition(`ORG#${this.org}#notes`)
  }

  async writeNote(text: string): Promise<void> {
    await this.dynamodb.send(
      new PutItemCommand({
        TableName: this.config.tableName,
        Item: {
          PK: { S: `ORG#${this.org}#notes` },
          SK: { S: `${new Date().toISOString()}#${this.sub}` },
          text: { S: text },
          by: { S: this.sub },
        },
      }),
    )
  }

  // Every item of one partition.
  async partition(pk: string): Promise<Item[]> {
    const { Items = [] } = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.config.tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': { S: pk } },
      }),
    )
    return Items
  }

  async ownItems(): Promise<Item[]> {
    return [...(await this.partition(`ORG#${this.org}`)), ...(await this.partition(`ORG#${this.org}#projects`))]
  }

  async publicItems(): Promise<Item[]> {
    return this.partition('PUBLIC#pricing')
  }

  // What an attacker holding this session would try. Each should be refused by IAM.
  async attacks(other: string): Promise<Attempt[]> {
    const table = this.config.tableName
    const tries: [string, string, () => Promise<unknown>][] = [
      ["another tenant's partition", `Query PK = ORG#${other}`, () => this.partition(`ORG#${other}`)],
      ...(this.hasApi
        ? [
            [
              "another tenant's organisation, through the API",
              `GET /orgs/${other}`,
              () => this.api(`/orgs/${other}`),
            ] as [string, string, () => Promise<unknown>],
          ]
        : []),
      [
        "a key that only starts with the organisation's id",
        `GetItem PK = ORG#${this.org}0`,
        () =>
          this.dynamodb.send(
            new GetItemCommand({ TableName: table, Key: { PK: { S: `ORG#${this.org}0` }, SK: { S: 'ORG' } } }),
          ),
      ],
      ['the whole table', 'Scan', () => this.dynamodb.send(new ScanCommand({ TableName: table }))],
      [
        'a write to its own organisation',
        `PutItem PK = ORG#${this.org}`,
        () =>
          this.dynamodb.send(
            new PutItemCommand({ TableName: table, Item: { PK: { S: `ORG#${this.org}` }, SK: { S: 'INJECTED' } } }),
          ),
      ],
      [
        'an index',
        'Query IndexName = by-owner',
        () =>
          this.dynamodb.send(
            new QueryCommand({
              TableName: table,
              IndexName: 'by-owner',
              KeyConditionExpression: '#o = :o',
              ExpressionAttributeNames: { '#o': 'owner' },
              ExpressionAttributeValues: { ':o': { S: this.org } },
            }),
          ),
      ],
    ]
    const attempts: Attempt[] = []
    for (const [name, request, send] of tries) {
      try {
        await send()
        attempts.push({ name, request, outcome: 'allowed', answer: 'ALLOWED: isolation is broken' })
      } catch (err) {
        const error = err as Error
        attempts.push({ name, request, outcome: 'refused', answer: `${error.name}: ${error.message}` })
      }
    }
    return attempts
  }
}

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
import { AuthenticationDetails, CognitoUser, CognitoUserPool, type ICognitoStorage } from 'amazon-cognito-identity-js'
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
  async signIn(email: string, password: string): Promise<Tenant> {
    const pool = new CognitoUserPool({
      UserPoolId: this.config.userPoolId,
      ClientId: this.config.userPoolClientId,
      endpoint: this.config.endpoints?.cognitoIdentityProvider,
      Storage: memoryStorage(),
    })
    const user = new CognitoUser({ Username: email, Pool: pool, Storage: memoryStorage() })
    user.setAuthenticationFlowType(this.config.authFlow ?? 'USER_SRP_AUTH')
    const idToken = await new Promise<string>((resolve, reject) =>
      user.authenticateUser(new AuthenticationDetails({ Username: email, Password: password }), {
        onSuccess: (session) => resolve(session.getIdToken().getJwtToken()),
        onFailure: reject,
        newPasswordRequired: () => reject(new Error('a new password is required: sign in elsewhere first')),
      }),
    )
    return new Tenant(this.config, idToken)
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
  private readonly dynamodb: DynamoDBClient
  private readonly signer: SignatureV4
  constructor(
    private readonly config: AppConfig,
    idToken: string,
  ) {
    const claims = JSON.parse(atob(idToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
    this.org = claims['custom:org']
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

  // A GET of the tenant API, signed with the session's credentials. Throws with the API's
  // message when it refuses.
  async api(path: string): Promise<unknown> {
    const url = new URL(`${this.config.apiUrl}${path}`)
    const signed = await this.signer.sign({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host },
    })
    const { host: _host, ...headers } = signed.headers
    const response = await fetch(url, { headers })
    const body = await response.json()
    if (!response.ok) {
      // API Gateway says "message" in its gateway responses, "Message" in an IAM denial.
      throw Object.assign(new Error(body.message ?? body.Message ?? `HTTP ${response.status}`), {
        name: `HTTP ${response.status}`,
      })
    }
    return body
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

// local-iam: the template's identity pool, and IAM in front of the DynamoDB stand-in.
//
//   node tests/iam/server.mjs --settings IDENTITY.json --template TRANSFORMED.json \
//     --upstream URL --user-pool-url URL --identity-port N --dynamodb-port N \
//     [--api-port N --api-invoke-url URL]
//
// Identity port: the Cognito Identity API (identity-pool.mjs).
// DynamoDB port: every request is authenticated (sigv4.mjs), then
// - signed with the local administrator keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the
//   harness: the test set-up, the demo's seeding): forwarded as it is;
// - signed with credentials this identity pool issued: its request context is derived
//   (context.mjs) and each authorisation is decided by the IAM policy simulator on the
//   policies the template gives the session's role, with the session's principal tags; one
//   denial denies the request, in DynamoDB's own error shape. A request it cannot read is
//   denied: it fails closed.
// API port (with --api-port): the template's REST API, as API Gateway runs an AWS_IAM method:
// the SigV4 signature (service execute-api) authenticated the same way, execute-api:Invoke on
// the method's ARN decided by the simulator, then the route's function invoked with a REST API
// proxy event (through the Lambda invoke API at --api-invoke-url). Its stage cache is not
// emulated.
// Every decision is one JSON line on standard output.
import { createServer, request as forward } from 'node:http'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { requestContext, Underivable } from './context.mjs'
import { IdentityPool, ServiceError } from './identity-pool.mjs'
import { AuthFailure, authenticate } from './sigv4.mjs'
import { ACCOUNT, REGION, rolePolicies, simulate, trustPolicy } from '../policy/tenant-policy.mjs'

const { values: options } = parseArgs({
  options: {
    settings: { type: 'string' },
    template: { type: 'string' },
    upstream: { type: 'string' },
    'user-pool-url': { type: 'string' },
    'identity-port': { type: 'string' },
    'dynamodb-port': { type: 'string' },
    'session-seconds': { type: 'string', default: '3600' },
    'api-port': { type: 'string' },
    'api-invoke-url': { type: 'string' },
  },
})
for (const name of ['settings', 'template', 'upstream', 'user-pool-url', 'identity-port', 'dynamodb-port']) {
  if (!options[name]) throw new Error(`--${name} is required`)
}

const settings = JSON.parse(readFileSync(options.settings, 'utf8'))
const admin = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
}
const template = JSON.parse(readFileSync(options.template, 'utf8'))
// The local REST API's id, where the template's ARNs say ${TenantApi}.
const API_ID = 'localapi01'
const attributes = { 'TenantTable.Arn': settings.TableArn, 'UserPool.Arn': settings.UserPoolArn, 'Ref TenantApi': API_ID }
const policiesOf = Object.fromEntries(
  Object.values(settings.Roles).map((role) => [role, rolePolicies(options.template, role, attributes)]),
)
const tables = tablesOf(template, settings)
const sessions = new Map()
const identityPool = new IdentityPool(settings, {
  issuerOf: (poolId) => `${options['user-pool-url']}/${poolId}`,
  trustOf: (role) => trustPolicy(options.template, role, { 'Ref IdentityPool': settings.IdentityPoolId }),
  sessions,
  sessionSeconds: Number(options['session-seconds']),
})

// The table's partition key, and each index's, from the template.
function tablesOf(transformed, { TableName, TableArn }) {
  const [definition] = Object.values(transformed.Resources).filter((r) => r.Type === 'AWS::DynamoDB::Table')
  const hash = (schema) => schema.find((k) => k.KeyType === 'HASH').AttributeName
  const indexes = {}
  for (const index of [...(definition.Properties.GlobalSecondaryIndexes ?? []), ...(definition.Properties.LocalSecondaryIndexes ?? [])]) {
    indexes[index.IndexName] = hash(index.KeySchema)
  }
  return { [TableName]: { arn: TableArn, partitionKey: hash(definition.Properties.KeySchema), indexes } }
}

function log(entry) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`)
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-expose-headers': '*',
}

function answer(response, status, body, contentType) {
  const text = JSON.stringify(body)
  response.writeHead(status, { ...CORS, 'content-type': contentType, 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

function readBody(incoming) {
  return new Promise((resolve, reject) => {
    const chunks = []
    incoming.on('data', (chunk) => chunks.push(chunk))
    incoming.on('end', () => resolve(Buffer.concat(chunks)))
    incoming.on('error', reject)
  })
}

function serve(port, handle) {
  const server = createServer(async (incoming, response) => {
    if (incoming.method === 'OPTIONS') {
      // A wildcard does not cover Authorization: name what the browser asks for.
      const asked = incoming.headers['access-control-request-headers']
      response.writeHead(204, { ...CORS, ...(asked ? { 'access-control-allow-headers': asked } : {}) })
      return response.end()
    }
    try {
      await handle(incoming, await readBody(incoming), response)
    } catch (err) {
      log({ error: String(err?.stack ?? err) })
      if (!response.headersSent) answer(response, 500, { __type: 'InternalServerError', message: 'local-iam failed' }, 'application/json')
    }
  })
  server.listen(Number(port), '127.0.0.1')
  return server
}

// ---------------------------------------------------------------- the identity pool
const identityServer = serve(options['identity-port'], async (incoming, body, response) => {
  const type = 'application/x-amz-json-1.1'
  const target = incoming.headers['x-amz-target'] ?? ''
  // A hook for the tests alone (this server listens on 127.0.0.1 only): end a session now,
  // to see what its holder is told.
  if (target === 'LocalIam.ExpireSession') {
    const session = sessions.get(JSON.parse(body.toString('utf8')).AccessKeyId)
    if (session) session.expiresAt = 0
    return answer(response, session ? 200 : 404, {}, type)
  }
  const operation = target.replace(/^AWSCognitoIdentityService\./, '')
  try {
    const result = await identityPool.handle(operation, JSON.parse(body.toString('utf8') || '{}'))
    log({ service: 'cognito-identity', operation, outcome: 'ok' })
    answer(response, 200, result, type)
  } catch (err) {
    if (!(err instanceof ServiceError)) throw err
    log({ service: 'cognito-identity', operation, outcome: err.code, message: err.message })
    answer(response, 400, { __type: err.code, message: err.message }, type)
  }
})

// ---------------------------------------------------------------- DynamoDB, behind IAM
const DYNAMODB_TYPE = 'application/x-amz-json-1.0'
const denied = (code, message) => ({ status: 400, body: { __type: `com.amazon.coral.service#${code}`, Message: message } })

// Who signed a request, for both front doors: the harness's administrator, or a session this
// identity pool issued, with its principal's ARN and its tags as IAM context keys. Throws
// AuthFailure for a request whose signature does not hold.
async function callerOf(incoming, body) {
  const request = { method: incoming.method, path: incoming.url, headers: incoming.headers, body }
  const { accessKeyId } = await authenticate(request, (key) =>
    key === admin.accessKeyId ? { secretAccessKey: admin.secretAccessKey } : sessions.get(key))
  if (accessKeyId === admin.accessKeyId) return { administrator: true }
  const session = sessions.get(accessKeyId)
  return {
    accessKeyId,
    session,
    expired: session.expiresAt <= Date.now(),
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${session.role}/${session.sessionName}`,
    tags: Object.fromEntries(Object.entries(session.tags).map(([k, v]) => [`aws:PrincipalTag/${k}`, v])),
  }
}

async function decide(incoming, body) {
  let caller
  try {
    caller = await callerOf(incoming, body)
  } catch (err) {
    if (err instanceof AuthFailure) return { outcome: 'unauthenticated', ...denied(err.code, err.message) }
    throw err
  }
  if (caller.administrator) return { outcome: 'administrator' }
  if (caller.expired) {
    return { outcome: 'expired', ...denied('ExpiredTokenException', 'The security token included in the request is expired') }
  }
  const { session, principal, tags } = caller
  const operation = (incoming.headers['x-amz-target'] ?? '').replace(/^DynamoDB_20120810\./, '')
  let authorisations
  try {
    authorisations = requestContext(operation, JSON.parse(body.toString('utf8')), tables)
  } catch (err) {
    if (!(err instanceof Underivable) && !(err instanceof SyntaxError)) throw err
    const message = `User: ${principal} is not authorized to perform: dynamodb:${operation}: the request could not be evaluated (${err.message})`
    return { outcome: 'deny', operation, reason: err.message, ...denied('AccessDeniedException', message) }
  }
  const decisions = []
  for (const { action, resource, contextVariables } of authorisations) {
    const decision = await simulate(policiesOf[session.role], {
      action,
      resource,
      principal,
      contextVariables: { ...contextVariables, ...tags },
    })
    decisions.push({ action, resource, context: contextVariables, result: decision.result })
    if (!decision.allowed) {
      const message = `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`
      return { outcome: 'deny', operation, tags: session.tags, decisions, ...denied('AccessDeniedException', message) }
    }
  }
  return { outcome: 'allow', operation, tags: session.tags, decisions }
}

const upstream = new URL(options.upstream)
const dynamodbServer = serve(options['dynamodb-port'], async (incoming, body, response) => {
  const { status, body: refusal, ...decision } = await decide(incoming, body)
  log({ service: 'dynamodb', ...decision })
  if (refusal) return answer(response, status, refusal, DYNAMODB_TYPE)
  const headers = { ...incoming.headers, host: upstream.host }
  await new Promise((resolve, reject) => {
    const outgoing = forward(
      { hostname: upstream.hostname, port: upstream.port, path: incoming.url, method: incoming.method, headers },
      (reply) => {
        response.writeHead(reply.statusCode, { ...reply.headers, ...CORS })
        reply.pipe(response)
        reply.on('end', resolve)
      },
    )
    outgoing.on('error', reject)
    outgoing.end(body)
  })
})

// ---------------------------------------------------------------- the REST API, behind IAM
// Its stage and routes, from the deployed definition (the transformed template).
function restApiOf(transformed) {
  const resources = Object.values(transformed.Resources)
  const api = resources.find((r) => r.Type === 'AWS::ApiGateway::RestApi')
  const stage = resources.find((r) => r.Type === 'AWS::ApiGateway::Stage')
  if (!api || !stage) return undefined
  const routes = Object.entries(api.Properties.Body.paths).flatMap(([template, methods]) =>
    Object.keys(methods).map((method) => {
      const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`)
      return { template, method: method.toUpperCase(), names, pattern }
    }))
  return { stage: stage.Properties.StageName, routes }
}

const apiAnswer = (status, message) => ({ status, body: { message } })

async function decideApi(incoming, body) {
  const url = new URL(incoming.url, 'http://local')
  const { stage, routes } = restApi
  const prefix = `/${stage}`
  const path = url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : undefined
  const match = path && routes.map((route) => ({ route, found: route.pattern.exec(path) }))
    .find(({ route, found }) => found && route.method === incoming.method)
  // API Gateway's answer to a route it does not have, signed or not.
  if (!match) return { outcome: 'no route', ...apiAnswer(403, 'Missing Authentication Token') }
  let caller
  try {
    caller = await callerOf(incoming, body)
  } catch (err) {
    if (!(err instanceof AuthFailure)) throw err
    const message = err.code === 'MissingAuthenticationTokenException' ? 'Missing Authentication Token' : err.message
    return { outcome: 'unauthenticated', ...apiAnswer(403, message) }
  }
  if (caller.administrator) return { outcome: 'administrator', ...apiAnswer(403, 'The tenant API serves signed-in users only') }
  if (caller.expired) return { outcome: 'expired', ...apiAnswer(403, 'The security token included in the request is expired') }
  const { session, principal, tags } = caller
  const resource = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/${stage}/${incoming.method}${path}`
  const decision = await simulate(policiesOf[session.role], { action: 'execute-api:Invoke', resource, principal, contextVariables: tags })
  if (!decision.allowed) {
    return { outcome: 'deny', resource, ...apiAnswer(403, `User: ${principal} is not authorized to perform: execute-api:Invoke on resource: ${resource}`) }
  }
  const query = Object.fromEntries(url.searchParams)
  const multi = {}
  for (const [name, value] of url.searchParams) (multi[name] ??= []).push(value)
  const event = {
    resource: match.route.template,
    path,
    httpMethod: incoming.method,
    headers: { host: incoming.headers.host },
    multiValueHeaders: { host: [incoming.headers.host] },
    queryStringParameters: url.searchParams.size ? query : null,
    multiValueQueryStringParameters: url.searchParams.size ? multi : null,
    pathParameters: Object.fromEntries(match.route.names.map((name, i) => [name, decodeURIComponent(match.found[i + 1])])),
    stageVariables: null,
    requestContext: {
      resourcePath: match.route.template,
      httpMethod: incoming.method,
      path: `${prefix}${path}`,
      stage,
      accountId: ACCOUNT,
      apiId: API_ID,
      requestId: crypto.randomUUID(),
      identity: {
        cognitoIdentityPoolId: session.identityPoolId,
        cognitoIdentityId: session.identityId,
        cognitoAuthenticationType: 'authenticated',
        cognitoAuthenticationProvider: `${session.provider},${session.provider}:CognitoSignIn:${session.sub}`,
        accessKey: caller.accessKeyId,
        userArn: principal,
        sourceIp: '127.0.0.1',
      },
    },
    body: body.length ? body.toString('utf8') : null,
    isBase64Encoded: false,
  }
  const invoked = await fetch(options['api-invoke-url'], { method: 'POST', body: JSON.stringify(event) })
  const answer = await invoked.json()
  if (typeof answer.statusCode !== 'number') return { outcome: 'function error', ...apiAnswer(502, 'Internal server error') }
  return { outcome: 'allow', resource, status: answer.statusCode, raw: answer }
}

const restApi = restApiOf(template)
const apiServer = options['api-port'] && restApi && serve(options['api-port'], async (incoming, body, response) => {
  const { status, body: message, raw, ...decision } = await decideApi(incoming, body)
  log({ service: 'execute-api', method: incoming.method, path: incoming.url, status, ...decision })
  if (!raw) return answer(response, status, message, 'application/json')
  response.writeHead(status, { ...CORS, ...(raw.headers ?? {}) })
  response.end(raw.isBase64Encoded ? Buffer.from(raw.body ?? '', 'base64') : (raw.body ?? ''))
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    identityServer.close()
    dynamodbServer.close()
    if (apiServer) apiServer.close()
    process.exit(0)
  })
}
log({ ready: true, identityPort: Number(options['identity-port']), dynamodbPort: Number(options['dynamodb-port']) })

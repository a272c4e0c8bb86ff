// local-iam: the template's identity pool, and IAM in front of the DynamoDB stand-in.
//
//   node local/iam/server.mjs --settings IDENTITY.json --template TRANSFORMED.json \
//     --upstream URL --user-pool-url URL --identity-port N --dynamodb-port N \
//     [--api-port N --api-invoke-url URL] [--parameter NAME=VALUE ...] [--loaded FILE]
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
// API port (with --api-port): the template's REST API, as API Gateway runs it from the
// deployed definition (the transformed template's Body): an AWS_IAM method has its SigV4
// signature (service execute-api) authenticated the same way and execute-api:Invoke on its
// ARN decided by the simulator, then its function invoked with a REST API proxy event
// (through the Lambda invoke API at --api-invoke-url); a mock method (the CORS preflight)
// answers with the headers it declares; a refusal is the template's gateway response. No
// header is added that the definition does not produce: CORS works here only as the template
// makes it work on AWS. The template's parameters (--parameter) resolve the header values.
// Its stage cache is not emulated.
// SIGHUP loads the template and the settings again from the same files (local/reload-iam.sh
// writes them first): the sessions issued so far are kept, as IAM applies a changed role
// policy to sessions already issued, with the principal tags they were given. Each load is
// acknowledged in --loaded FILE ({"loads": N}, or the error that stopped the server).
// Every decision is one JSON line on standard output.

import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, request as forward } from 'node:http'
import { parseArgs } from 'node:util'
import { requestContext, Underivable } from './context.mjs'
import { IdentityPool, ServiceError, sessionAllows } from './identity-pool.mjs'
import { ACCOUNT, REGION, rolePolicies, trustPolicy } from './policies.mjs'
import { AuthFailure, authenticate } from './sigv4.mjs'

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
    parameter: { type: 'string', multiple: true, default: [] },
    loaded: { type: 'string' },
  },
})
for (const name of ['settings', 'template', 'upstream', 'user-pool-url', 'identity-port', 'dynamodb-port']) {
  if (!options[name]) throw new Error(`--${name} is required`)
}

const admin = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
}
// The local REST API's id, where the template's ARNs say ${TenantApi}.
const API_ID = 'localapi01'
const parameters = Object.fromEntries(
  options.parameter.map((pair) => {
    const at = pair.indexOf('=')
    if (at < 1) throw new Error(`--parameter ${pair}: NAME=VALUE`)
    return [pair.slice(0, at), pair.slice(at + 1)]
  }),
)
// What the identity pool has issued: kept across reloads.
const sessions = new Map()
const identities = new Map()
const byUser = new Map()

// Everything read from the template and the settings: the roles' policies, the table's keys,
// the identity pool, the REST API.
function load() {
  const settings = JSON.parse(readFileSync(options.settings, 'utf8'))
  const template = JSON.parse(readFileSync(options.template, 'utf8'))
  const attributes = {
    'TenantTable.Arn': settings.TableArn,
    'UserPool.Arn': settings.UserPoolArn,
    'Ref TenantApi': API_ID,
  }
  // Every role an identity pool may assume (its trust names cognito-identity), attached or
  // not: a session issued before a reload keeps its role, as on AWS, where the role and its
  // policies outlive a change of the attachment.
  const federated = (resource) =>
    (resource.Properties.AssumeRolePolicyDocument?.Statement ?? []).some((statement) =>
      [statement.Principal?.Federated].flat().includes('cognito-identity.amazonaws.com'),
    )
  const attached = new Set(Object.values(settings.Roles))
  const roles = Object.entries(template.Resources)
    .filter(([name, resource]) => resource.Type === 'AWS::IAM::Role' && (attached.has(name) || federated(resource)))
    .map(([name]) => name)
  return {
    policiesOf: Object.fromEntries(roles.map((role) => [role, rolePolicies(options.template, role, attributes)])),
    tables: tablesOf(template, settings),
    identityPool: new IdentityPool(settings, {
      issuerOf: (poolId) => `${options['user-pool-url']}/${poolId}`,
      trustOf: (role) => trustPolicy(options.template, role, { 'Ref IdentityPool': settings.IdentityPoolId }),
      sessions,
      identities,
      byUser,
      sessionSeconds: Number(options['session-seconds']),
    }),
    restApi: restApiOf(template),
  }
}
let world = load()

// The table's partition key, and each index's, from the template.
function tablesOf(transformed, { TableName, TableArn }) {
  const [definition] = Object.values(transformed.Resources).filter((r) => r.Type === 'AWS::DynamoDB::Table')
  const hash = (schema) => schema.find((k) => k.KeyType === 'HASH').AttributeName
  const indexes = {}
  for (const index of [
    ...(definition.Properties.GlobalSecondaryIndexes ?? []),
    ...(definition.Properties.LocalSecondaryIndexes ?? []),
  ]) {
    indexes[index.IndexName] = hash(index.KeySchema)
  }
  return { [TableName]: { arn: TableArn, partitionKey: hash(definition.Properties.KeySchema), indexes } }
}

function log(entry) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`)
}

// Cognito Identity and DynamoDB answer browsers' CORS requests themselves (browser SDKs call
// them directly); the tenant API's CORS is the template's alone (below).
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

function serve(port, handle, { cors = true } = {}) {
  const server = createServer(async (incoming, response) => {
    if (cors && incoming.method === 'OPTIONS') {
      // A wildcard does not cover Authorization: name what the browser asks for.
      const asked = incoming.headers['access-control-request-headers']
      response.writeHead(204, { ...CORS, ...(asked ? { 'access-control-allow-headers': asked } : {}) })
      return response.end()
    }
    try {
      await handle(incoming, await readBody(incoming), response)
    } catch (err) {
      log({ error: String(err?.stack ?? err) })
      if (!response.headersSent)
        answer(response, 500, { __type: 'InternalServerError', message: 'local-iam failed' }, 'application/json')
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
    const result = await world.identityPool.handle(operation, JSON.parse(body.toString('utf8') || '{}'))
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
const denied = (code, message) => ({
  status: 400,
  body: { __type: `com.amazon.coral.service#${code}`, Message: message },
})

// Who signed a request, for both front doors: the harness's administrator, or a session this
// identity pool issued, with its principal's ARN and its tags as IAM context keys. Throws
// AuthFailure for a request whose signature does not hold.
// service: what the credential scope must name (dynamodb, execute-api), as each service checks.
async function callerOf(incoming, body, service) {
  const request = { method: incoming.method, path: incoming.url, headers: incoming.headers, body }
  const { accessKeyId } = await authenticate(
    request,
    (key) => (key === admin.accessKeyId ? { secretAccessKey: admin.secretAccessKey } : sessions.get(key)),
    { service, region: REGION },
  )
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
    caller = await callerOf(incoming, body, 'dynamodb')
  } catch (err) {
    if (err instanceof AuthFailure) return { outcome: 'unauthenticated', ...denied(err.code, err.message) }
    throw err
  }
  if (caller.administrator) return { outcome: 'administrator' }
  if (caller.expired) {
    return {
      outcome: 'expired',
      ...denied('ExpiredTokenException', 'The security token included in the request is expired'),
    }
  }
  const { session, principal, tags } = caller
  const operation = (incoming.headers['x-amz-target'] ?? '').replace(/^DynamoDB_20120810\./, '')
  let authorisations
  try {
    authorisations = requestContext(operation, JSON.parse(body.toString('utf8')), world.tables)
  } catch (err) {
    if (!(err instanceof Underivable) && !(err instanceof SyntaxError)) throw err
    const message = `User: ${principal} is not authorized to perform: dynamodb:${operation}: the request could not be evaluated (${err.message})`
    return { outcome: 'deny', operation, reason: err.message, ...denied('AccessDeniedException', message) }
  }
  const decisions = []
  for (const { action, resource, contextVariables } of authorisations) {
    const decision = await sessionAllows(world.policiesOf[session.role], session, {
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
// A header value of the deployed definition: a literal in single quotes ("'value'"), after
// the template's intrinsics are resolved (Fn::Sub, Ref on a parameter). Anything else is an
// error, never a guess.
function headerValue(node, where) {
  let text = node
  if (typeof node === 'object' && node !== null) {
    if (typeof node['Fn::Sub'] === 'string') {
      text = node['Fn::Sub'].replace(/\$\{([^}!]+)\}/g, (_, name) => {
        if (!(name in parameters)) throw new Error(`${where}: no value for \${${name}}: pass --parameter ${name}=...`)
        return parameters[name]
      })
    } else if (typeof node.Ref === 'string' && node.Ref in parameters) text = parameters[node.Ref]
    else throw new Error(`${where}: cannot resolve ${JSON.stringify(node)}`)
  }
  const quoted = /^'(.*)'$/.exec(text)
  if (!quoted) throw new Error(`${where}: ${text} is not a static value ('...')`)
  return quoted[1]
}

// The headers a definition's responseParameters set, by their prefix.
function headersOf(responseParameters = {}, prefix, where) {
  const headers = {}
  for (const [name, value] of Object.entries(responseParameters)) {
    if (!name.startsWith(prefix)) throw new Error(`${where}: ${name} is not emulated`)
    headers[name.slice(prefix.length).toLowerCase()] = headerValue(value, `${where}.${name}`)
  }
  return headers
}

// Its stage, routes and gateway responses, from the deployed definition (the transformed
// template).
function restApiOf(transformed) {
  const resources = Object.values(transformed.Resources)
  const api = resources.find((r) => r.Type === 'AWS::ApiGateway::RestApi')
  const stage = resources.find((r) => r.Type === 'AWS::ApiGateway::Stage')
  if (!api || !stage) return undefined
  const body = api.Properties.Body
  const routes = Object.entries(body.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, definition]) => {
      const names = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`)
      const integration = definition['x-amazon-apigateway-integration'] ?? {}
      const iam = (definition.security ?? []).some((requirement) => 'AWS_IAM' in requirement)
      if (definition.security?.length && !iam)
        throw new Error(`${method} ${template}: only AWS_IAM security is emulated`)
      const route = { template, method: method.toUpperCase(), names, pattern, iam, type: integration.type }
      if (integration.type === 'mock') {
        const answer = integration.responses?.default ?? {}
        route.mock = {
          status: Number(answer.statusCode ?? 200),
          headers: headersOf(answer.responseParameters, 'method.response.header.', `${method} ${template}`),
        }
      } else if (integration.type !== 'aws_proxy')
        throw new Error(`${method} ${template}: integration ${integration.type} is not emulated`)
      return route
    }),
  )
  const gatewayResponses = Object.fromEntries(
    Object.entries(body['x-amazon-apigateway-gateway-responses'] ?? {}).map(([type, response]) => [
      type,
      {
        headers: headersOf(response.responseParameters, 'gatewayresponse.header.', `gateway response ${type}`),
        template: response.responseTemplates?.['application/json'],
      },
    ]),
  )
  return { stage: stage.Properties.StageName, routes, gatewayResponses }
}

// API Gateway's own refusals, by gateway response type: the status, the error type in
// x-amzn-ErrorType, and the body. A type the definition does not customise takes
// DEFAULT_4XX or DEFAULT_5XX's (the fallback for every type not set on its own: API Gateway
// developer guide, "Gateway responses"); with neither, API Gateway's default body.
const REFUSALS = {
  MISSING_AUTHENTICATION_TOKEN: [403, 'MissingAuthenticationTokenException'],
  INVALID_SIGNATURE: [403, 'InvalidSignatureException'],
  EXPIRED_TOKEN: [403, 'ExpiredTokenException'],
  ACCESS_DENIED: [403, 'AccessDeniedException'],
  UNAUTHORIZED: [401, 'UnauthorizedException'],
  INTEGRATION_FAILURE: [502, 'InternalServerErrorException'],
}
// Which gateway response each authentication failure (sigv4.mjs) is.
const AUTH_FAILURES = {
  MissingAuthenticationTokenException: 'MISSING_AUTHENTICATION_TOKEN',
  IncompleteSignatureException: 'INVALID_SIGNATURE',
  InvalidSignatureException: 'INVALID_SIGNATURE',
  UnrecognizedClientException: 'UNAUTHORIZED',
}

function refusal(type, message) {
  const [status, errorType] = REFUSALS[type]
  const custom =
    world.restApi.gatewayResponses[type] ?? world.restApi.gatewayResponses[status < 500 ? 'DEFAULT_4XX' : 'DEFAULT_5XX']
  // API Gateway's own default: an IAM denial says "Message", every other refusal "message".
  let body = JSON.stringify(type === 'ACCESS_DENIED' ? { Message: message } : { message })
  if (custom?.template !== undefined) {
    body = custom.template
      .replaceAll('$context.error.messageString', JSON.stringify(message))
      .replaceAll('$context.error.message', message)
  }
  return {
    status,
    headers: { ...(custom?.headers ?? {}), 'x-amzn-errortype': errorType, 'content-type': 'application/json' },
    body,
  }
}

async function decideApi(incoming, body) {
  const url = new URL(incoming.url, 'http://local')
  const { stage, routes } = world.restApi
  const prefix = `/${stage}`
  const path = url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : undefined
  const match =
    path &&
    routes
      .map((route) => ({ route, found: route.pattern.exec(path) }))
      .find(({ route, found }) => found && route.method === incoming.method)
  // API Gateway's answer to a method it does not have, signed or not: a preflight too, when
  // the definition has no OPTIONS method.
  if (!match) return { outcome: 'no route', ...refusal('MISSING_AUTHENTICATION_TOKEN', 'Missing Authentication Token') }
  const { route, found } = match
  let caller
  if (route.iam) {
    try {
      caller = await callerOf(incoming, body, 'execute-api')
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err
      const message = err.code === 'MissingAuthenticationTokenException' ? 'Missing Authentication Token' : err.message
      return { outcome: 'unauthenticated', ...refusal(AUTH_FAILURES[err.code] ?? 'ACCESS_DENIED', message) }
    }
    if (caller.administrator)
      return { outcome: 'administrator', ...refusal('ACCESS_DENIED', 'The tenant API serves signed-in users only') }
    if (caller.expired)
      return {
        outcome: 'expired',
        ...refusal('EXPIRED_TOKEN', 'The security token included in the request is expired'),
      }
  }
  if (route.mock) return { outcome: 'mock', status: route.mock.status, headers: route.mock.headers, body: '' }
  if (!caller) throw new Error(`${route.method} ${route.template}: a proxy route without IAM is not emulated`)
  const { session, principal, tags } = caller
  const resource = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/${stage}/${incoming.method}${path}`
  const decision = await sessionAllows(world.policiesOf[session.role], session, {
    action: 'execute-api:Invoke',
    resource,
    principal,
    contextVariables: tags,
  })
  if (!decision.allowed) {
    return {
      outcome: 'deny',
      resource,
      ...refusal(
        'ACCESS_DENIED',
        `User: ${principal} is not authorized to perform: execute-api:Invoke on resource: ${resource}`,
      ),
    }
  }
  // As API Gateway builds them: the single-value map keeps the last of a repeated parameter.
  const query = Object.fromEntries(url.searchParams)
  const multi = {}
  for (const [name, value] of url.searchParams) {
    multi[name] = [...(multi[name] ?? []), value]
  }
  const event = {
    resource: route.template,
    path,
    httpMethod: incoming.method,
    // Every request header, as a proxy integration passes them: the last value of a repeated
    // one in the single map, all of them in the other.
    headers: Object.fromEntries(
      Object.entries(incoming.headersDistinct).map(([name, values]) => [name, values.at(-1)]),
    ),
    multiValueHeaders: incoming.headersDistinct,
    queryStringParameters: url.searchParams.size ? query : null,
    multiValueQueryStringParameters: url.searchParams.size ? multi : null,
    pathParameters: Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(found[i + 1])])),
    stageVariables: null,
    requestContext: {
      resourcePath: route.template,
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
  if (typeof answer.statusCode !== 'number')
    return { outcome: 'function error', ...refusal('INTEGRATION_FAILURE', 'Internal server error') }
  // The function's own headers and nothing else: a proxy integration's answer is passed on,
  // `headers` and `multiValueHeaders` merged into one list as API Gateway merges them
  // (lambda_http answers a REST API with multiValueHeaders alone).
  const headers = {}
  for (const [name, value] of Object.entries(answer.headers ?? {})) headers[name.toLowerCase()] = [String(value)]
  for (const [name, values] of Object.entries(answer.multiValueHeaders ?? {})) {
    const key = name.toLowerCase()
    headers[key] = [...new Set([...(headers[key] ?? []), ...values.map(String)])]
  }
  return {
    outcome: 'allow',
    resource,
    status: answer.statusCode,
    headers,
    body: answer.isBase64Encoded ? Buffer.from(answer.body ?? '', 'base64') : (answer.body ?? ''),
  }
}

const apiServer =
  options['api-port'] &&
  world.restApi &&
  serve(
    options['api-port'],
    async (incoming, body, response) => {
      const { status, headers, body: answer, ...decision } = await decideApi(incoming, body)
      log({ service: 'execute-api', method: incoming.method, path: incoming.url, status, ...decision })
      response.writeHead(status, headers)
      response.end(answer)
    },
    { cors: false },
  )

let loads = 0
const acknowledge = (entry) => options.loaded && writeFileSync(options.loaded, JSON.stringify(entry))
process.on('SIGHUP', () => {
  try {
    world = load()
  } catch (err) {
    // Fail closed: a template it cannot read stops the server rather than keep the old one.
    log({ error: `reload failed: ${err.message}` })
    acknowledge({ loads, error: err.message })
    process.exit(1)
  }
  loads += 1
  log({ reloaded: loads })
  acknowledge({ loads })
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    identityServer.close()
    dynamodbServer.close()
    if (apiServer) apiServer.close()
    process.exit(0)
  })
}
acknowledge({ loads })
log({ ready: true, identityPort: Number(options['identity-port']), dynamodbPort: Number(options['dynamodb-port']) })

// Serves the built app (web/dist) on 127.0.0.1, with /config.json made from the stack's outputs
// in the environment (as local/aws.sh sets them): the local stand-in for hosting the app
// beside a deployed stack. `node web/serve.mjs` (make up) keeps serving until stopped; the demo
// and the browser test start it in-process with startWebApp().

import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

const DIST = fileURLToPath(new URL('./dist/', import.meta.url))
const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
}

export function configFromEnvironment(env = process.env) {
  const need = (name) => {
    if (!env[name]) throw new Error(`${name} is not set: run this through local/aws.sh`)
    return env[name]
  }
  return {
    region: need('AWS_REGION'),
    userPoolId: need('UserPoolId'),
    userPoolClientId: need('UserPoolClientId'),
    identityPoolId: need('IdentityPoolId'),
    tableName: need('TableName'),
    ...(env.TenantApiUrl ? { apiUrl: env.TenantApiUrl } : {}),
    // cognito-local has no SRP; a deployed stack's config leaves this out (SRP).
    authFlow: 'USER_PASSWORD_AUTH',
    endpoints: {
      cognitoIdentityProvider: need('AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER'),
      cognitoIdentity: need('AWS_ENDPOINT_URL_COGNITO_IDENTITY'),
      dynamodb: need('AWS_ENDPOINT_URL_DYNAMODB'),
    },
  }
}

// The port defaults to WEB_PORT (local/aws.sh): the origin the stack's CORS admits.
export async function startWebApp({ port = Number(process.env.WEB_PORT ?? 0), config = configFromEnvironment() } = {}) {
  const index = await readFile(join(DIST, 'index.html')).catch(() => {
    throw new Error('web/dist is missing: run make web')
  })
  const server = createServer(async (request, response) => {
    const path = new URL(request.url, 'http://localhost').pathname
    if (path === '/config.json') {
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      return response.end(JSON.stringify(config))
    }
    const file = normalize(join(DIST, path))
    if (!file.startsWith(DIST)) {
      response.writeHead(404)
      return response.end()
    }
    try {
      const body = path === '/' ? index : await readFile(file)
      response.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? (path === '/' ? 'text/html' : 'application/octet-stream'),
      })
      response.end(body)
    } catch {
      response.writeHead(404)
      response.end()
    }
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}/`
  return { url, close: () => new Promise((resolve) => server.close(resolve)) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startWebApp()
  console.log(`\nThe web app is at ${url}  (the confirmation code is always 123456; Ctrl-C stops everything)\n`)
}

// Authenticates a SigV4-signed request by signing it again with the AWS SDK's own signer
// (@smithy/signature-v4) and the secret of the access key it names, and comparing the two
// signatures in constant time. No signing code of our own.
import { createHash, timingSafeEqual } from 'node:crypto'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'

// DynamoDB's own error codes for each way authentication fails.
export class AuthFailure extends Error {
  constructor(code, message) {
    super(message)
    this.code = code
  }
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/
// How far a request's time may be from ours (SigV4 allows 15 minutes).
const SKEW_MS = 15 * 60 * 1000

function parseAmzDate(value) {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '')
  if (!match) return undefined
  const [, y, mo, d, h, mi, s] = match.map(Number)
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s))
}

// request: { method, path, headers (lower-case names), body (Buffer) }
// secretOf(accessKeyId) -> { secretAccessKey, sessionToken? } or undefined for an unknown key.
// expected: { service, region } the credential scope must name, as each service checks.
// Returns { accessKeyId, service, region } of a request whose signature is right.
export async function authenticate(
  request,
  secretOf,
  { service: expectedService, region: expectedRegion, now = new Date() } = {},
) {
  if (!expectedService || !expectedRegion) throw new Error('authenticate needs the expected service and region')
  const header = request.headers.authorization
  if (!header) throw new AuthFailure('MissingAuthenticationTokenException', 'Request is missing Authentication Token')
  const parsed = AUTHORIZATION.exec(header)
  if (!parsed)
    throw new AuthFailure('IncompleteSignatureException', 'The Authorization header is not a SigV4 signature')
  const [, accessKeyId, shortDate, region, service, signedHeaderList, signature] = parsed
  const known = secretOf(accessKeyId)
  if (!known)
    throw new AuthFailure('UnrecognizedClientException', 'The security token included in the request is invalid.')
  const signedHeaders = signedHeaderList.split(';')
  // The scope names the service and region the request is for, and host must be signed.
  if (service !== expectedService) {
    throw new AuthFailure(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${expectedService}'.`,
    )
  }
  if (region !== expectedRegion) {
    throw new AuthFailure('InvalidSignatureException', 'Credential should be scoped to a valid region.')
  }
  if (!signedHeaders.includes('host')) {
    throw new AuthFailure('IncompleteSignatureException', "'Host' must be a 'SignedHeader' in the AWS Authorization.")
  }
  // The payload hash is the body's, whatever a header says: a signed x-amz-content-sha256 must
  // equal it, so a captured request cannot carry another body; these services take no
  // UNSIGNED-PAYLOAD.
  const bodyHash = createHash('sha256')
    .update(request.body ?? Buffer.alloc(0))
    .digest('hex')
  const claimed = request.headers['x-amz-content-sha256']
  if (claimed !== undefined && claimed !== bodyHash) {
    throw new AuthFailure(
      'InvalidSignatureException',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
  }
  const signingDate = parseAmzDate(request.headers['x-amz-date'])
  if (
    !signingDate ||
    !signedHeaders.includes('x-amz-date') ||
    shortDate !== request.headers['x-amz-date'].slice(0, 8)
  ) {
    throw new AuthFailure(
      'IncompleteSignatureException',
      'The request must sign X-Amz-Date, within its credential scope',
    )
  }
  if (Math.abs(now.getTime() - signingDate.getTime()) > SKEW_MS) {
    throw new AuthFailure(
      'InvalidSignatureException',
      'Signature expired: the request time is too far from the server time.',
    )
  }
  // A session key must come with its own session token, signed.
  if (known.sessionToken !== undefined) {
    const token = request.headers['x-amz-security-token']
    if (token === undefined || !signedHeaders.includes('x-amz-security-token') || !equal(token, known.sessionToken)) {
      throw new AuthFailure('UnrecognizedClientException', 'The security token included in the request is invalid.')
    }
  }
  const headers = {}
  for (const name of signedHeaders) {
    if (request.headers[name] === undefined) {
      throw new AuthFailure('InvalidSignatureException', `The request signs ${name} but does not send it`)
    }
    headers[name] = request.headers[name]
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: known.secretAccessKey, sessionToken: known.sessionToken },
    region,
    service,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
    uriEscapePath: service !== 's3',
  })
  const [path, query] = splitPath(request.path)
  const resigned = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: headers.host ?? '',
      path,
      query,
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  )
  const expected = AUTHORIZATION.exec(resigned.headers.authorization)
  if (!expected || expected[5] !== signedHeaderList || !equal(expected[6], signature)) {
    throw new AuthFailure(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    )
  }
  return { accessKeyId, service, region }
}

function splitPath(full) {
  const at = full.indexOf('?')
  if (at < 0) return [full, {}]
  const query = {}
  for (const [key, value] of new URLSearchParams(full.slice(at + 1))) query[key] = value
  return [full.slice(0, at), query]
}

function equal(a, b) {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

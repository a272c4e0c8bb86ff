// For `make demo`: what the tenant role (template.yaml, after the SAM transform) lets each user
// do, with the organisation from that user's own ID token as the session's org tag.
// Usage: TRANSFORMED_TEMPLATE=... node tests/policy/explain.mjs EMAIL=ORG EMAIL=ORG
import { decide, rolePolicies } from './tenant-policy.mjs'

const tenant = rolePolicies(process.env.TRANSFORMED_TEMPLATE, 'TenantRole')
const users = process.argv.slice(2).map((arg) => arg.split('='))
let surprises = 0
console.log(`  ${'user'.padEnd(20)} ${'request'.padEnd(60)} decision`)
for (const [email, org] of users) {
  const [, other] = users.find(([name]) => name !== email)
  const requests = [
    ['GetItem', `ORG#${org}`, true],
    ['Query', `ORG#${org}#projects`, true],
    ['GetItem', 'PUBLIC#pricing', true],
    ['Query', `ORG#${other}`, false],
    ['Scan', null, false],
  ]
  for (const [action, key, expected] of requests) {
    const decision = await decide(tenant, {
      action: `dynamodb:${action}`,
      org,
      keys: key === null ? undefined : [key],
    })
    const request = key === null ? `${action} (the whole table)` : `${action} ${key}`
    const shown = decision.allowed ? 'allowed' : 'denied'
    const note = decision.allowed === expected ? '' : '   <-- NOT AS EXPECTED'
    surprises += note ? 1 : 0
    console.log(`  ${email.padEnd(20)} ${request.padEnd(60)} ${shown}${note}`)
  }
}
process.exit(surprises ? 1 : 0)

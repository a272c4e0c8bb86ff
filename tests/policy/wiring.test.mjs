// The order CloudFormation creates things in, from the transformed template: no app client
// (and so no sign-up or sign-in) exists before Cognito may invoke the triggers and the
// function may set the organisation attribute.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const template = process.env.TRANSFORMED_TEMPLATE
assert.ok(template, 'TRANSFORMED_TEMPLATE is not set: run `make test`')
const resources = Object.entries(JSON.parse(readFileSync(template, 'utf8')).Resources)

const named = (predicate) => resources.filter(([, r]) => predicate(r)).map(([name]) => name)
const invokePermissions = named(
  (r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.Principal === 'cognito-idp.amazonaws.com',
)
const userPoolPolicies = named(
  (r) =>
    r.Type === 'AWS::IAM::Policy' &&
    JSON.stringify(r.Properties.PolicyDocument).includes('cognito-idp:AdminUpdateUserAttributes'),
)
const clients = resources.filter(([, r]) => r.Type === 'AWS::Cognito::UserPoolClient')

test('the template has trigger permissions and clients to order', () => {
  assert.ok(invokePermissions.length > 0 && userPoolPolicies.length > 0 && clients.length > 0)
})

for (const [name, client] of clients) {
  test(`app client ${name} is created after every trigger permission`, () => {
    const waitsFor = [client.DependsOn ?? []].flat()
    for (const permission of [...invokePermissions, ...userPoolPolicies]) {
      assert.ok(waitsFor.includes(permission), `${name} does not depend on ${permission}`)
    }
  })
}

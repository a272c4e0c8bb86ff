// The roles' permissions, read from the transformed template (local/transform.py), and a
// way to ask what they allow. Shared by the policy cases, explain.mjs (make demo) and the
// local IAM gateway (local/iam), which resolves the ARNs to the local stack's own.
import { readFileSync } from 'node:fs'
import { runSimulation } from '@cloud-copilot/iam-simulate'

export const ACCOUNT = '123456789012'
export const REGION = 'us-east-1'
export const TABLE = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/tenant-table`
export const USER_POOL = `arn:aws:cognito-idp:${REGION}:${ACCOUNT}:userpool/${REGION}_Example`
export const LOG_GROUP = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:provision-tenant:*`
export const API_ID = 'a1b2c3d4e5'
export const API = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}`

// Values for the intrinsics a role policy may use. Any other intrinsic is an error, so that a
// policy the simulator cannot read fails the tests instead of being evaluated half-resolved.
export const ATTRIBUTES = {
  'Ref AWS::Partition': 'aws',
  'Ref AWS::Region': REGION,
  'Ref AWS::AccountId': ACCOUNT,
  'Ref TenantApi': API_ID,
  'TenantTable.Arn': TABLE,
  'UserPool.Arn': USER_POOL,
  'ProvisionFunctionLogGroup.Arn': LOG_GROUP,
}

function resolve(node, where, attributes) {
  if (Array.isArray(node)) return node.map((item) => resolve(item, where, attributes))
  if (node === null || typeof node !== 'object') return node
  const keys = Object.keys(node)
  if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
    const name = node['Fn::GetAtt'].join('.')
    if (!(name in attributes)) throw new Error(`${where}: cannot evaluate Fn::GetAtt ${name}`)
    return attributes[name]
  }
  if (keys.length === 1 && keys[0] === 'Fn::Sub' && typeof node['Fn::Sub'] === 'string') {
    // ${Name} is a Ref, ${Name.Attr} a GetAtt, ${!text} the literal ${text} (a policy
    // variable, for IAM to fill in).
    return node['Fn::Sub'].replace(/\$\{(!?)([^}]+)\}/g, (_, literal, name) => {
      if (literal) return `\${${name}}`
      if (name.startsWith('aws:')) return `\${${name}}`
      const key = name.includes('.') ? name : `Ref ${name}`
      if (!(key in attributes)) throw new Error(`${where}: cannot evaluate \${${name}}`)
      return attributes[key]
    })
  }
  if (keys.length === 1 && keys[0] === 'Ref' && `Ref ${node.Ref}` in attributes) return attributes[`Ref ${node.Ref}`]
  if (keys.some((key) => key === 'Ref' || key.startsWith('Fn::'))) {
    throw new Error(`${where}: cannot evaluate ${JSON.stringify(node)}`)
  }
  return Object.fromEntries(keys.map((key) => [key, resolve(node[key], where, attributes)]))
}

// Every identity policy attached to the role: its inline policies and any AWS::IAM::Policy
// naming it. Managed policies cannot be read offline, so a role with any is refused.
// `overrides` changes the value of a Fn::GetAtt ('X.Arn') or Ref ('Ref X') from ATTRIBUTES', as
// the local stack does for its table's ARN.
export function rolePolicies(transformedTemplate, role, overrides = {}) {
  const attributes = { ...ATTRIBUTES, ...overrides }
  const resources = JSON.parse(readFileSync(transformedTemplate, 'utf8')).Resources
  const definition = resources[role]
  if (definition?.Type !== 'AWS::IAM::Role') throw new Error(`no role ${role}`)
  if (definition.Properties.ManagedPolicyArns?.length) {
    throw new Error(`${role} has managed policies, which these tests cannot evaluate`)
  }
  const inline = (definition.Properties.Policies ?? []).map((p) => ({
    name: p.PolicyName,
    policy: resolve(p.PolicyDocument, `${role}/${p.PolicyName}`, attributes),
  }))
  const attached = Object.entries(resources)
    .filter(([, r]) => ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(r.Type))
    .filter(([, r]) => (r.Properties.Roles ?? []).some((ref) => ref?.Ref === role))
    .map(([name, r]) => ({ name, policy: resolve(r.Properties.PolicyDocument, name, attributes) }))
  return [...inline, ...attached]
}

// What the role's policies decide for one request. `org` and `memberRole` are the session's
// principal tags org and role (absent: no tag); `keys` the request's dynamodb:LeadingKeys
// (absent: none, as for Scan); `role` the IAM role whose session it is.
export async function decide(policies, { action, org, memberRole, keys, resource = TABLE, role = 'TenantRole' }) {
  const contextVariables = {}
  if (org !== undefined) contextVariables['aws:PrincipalTag/org'] = org
  if (memberRole !== undefined) contextVariables['aws:PrincipalTag/role'] = memberRole
  if (keys !== undefined) contextVariables['dynamodb:LeadingKeys'] = keys
  return simulate(policies, {
    action,
    resource,
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/session`,
    contextVariables,
  })
}

// A role's trust policy, resolved as rolePolicies resolves its permissions.
export function trustPolicy(transformedTemplate, role, overrides = {}) {
  const attributes = { ...ATTRIBUTES, ...overrides }
  const definition = JSON.parse(readFileSync(transformedTemplate, 'utf8')).Resources[role]
  if (definition?.Type !== 'AWS::IAM::Role') throw new Error(`no role ${role}`)
  return resolve(definition.Properties.AssumeRolePolicyDocument, `${role}/trust`, attributes)
}

// The simulator's decision on one authorisation: an action on a resource, by a principal,
// with the request's context keys; `resourcePolicy` for a role's trust policy.
export async function simulate(policies, { action, resource, principal, contextVariables, resourcePolicy }) {
  const response = await runSimulation(
    {
      identityPolicies: policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
      request: {
        action,
        principal,
        resource: { resource, accountId: ACCOUNT },
        contextVariables,
      },
    },
    {},
  )
  if (response.resultType !== 'single') {
    throw new Error(`simulation did not run: ${JSON.stringify(response.errors ?? response)}`)
  }
  return {
    allowed: response.overallResult === 'Allowed',
    result: response.overallResult,
    ignored: response.result.ignoredContextKeys ?? [],
  }
}

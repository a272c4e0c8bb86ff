// The tenant role's cases, stated once: what a session tagged with organisation `own` and a
// member's role (any of owner, admin, member: each writes the organisation's data) may and
// may not do. isolation.test.mjs evaluates each with the simulator, offline; tests/live/data-path.test.mjs
// sends each as a signed request through the local IAM gateway and asserts the same decision.
// `table` is the table's ARN; `other` another tenant's organisation; `sub` some user's sub.
export function tenantCases({ own, other, sub, table }) {
  const allowed = [
    ['GetItem on its organisation', { action: 'dynamodb:GetItem', keys: [`ORG#${own}`] }],
    ['Query below its organisation', { action: 'dynamodb:Query', keys: [`ORG#${own}#projects`] }],
    ['GetItem on a public partition', { action: 'dynamodb:GetItem', keys: ['PUBLIC#pricing'] }],
    [
      'BatchGetItem of own and public keys',
      { action: 'dynamodb:BatchGetItem', keys: [`ORG#${own}`, `ORG#${own}#a`, 'PUBLIC#x'] },
    ],
    ['PutItem on its data', { action: 'dynamodb:PutItem', keys: [`ORG#${own}#notes`] }],
    ['UpdateItem on its data', { action: 'dynamodb:UpdateItem', keys: [`ORG#${own}#notes`] }],
    ['DeleteItem on its data', { action: 'dynamodb:DeleteItem', keys: [`ORG#${own}#notes`] }],
  ]
  const denied = [
    ["another tenant's organisation", { action: 'dynamodb:GetItem', keys: [`ORG#${other}`] }],
    ["a Query of another tenant's data", { action: 'dynamodb:Query', keys: [`ORG#${other}#projects`] }],
    [
      "a batch mixing its own and another's keys",
      { action: 'dynamodb:BatchGetItem', keys: [`ORG#${own}`, `ORG#${other}`] },
    ],
    ['a key that only starts with its id', { action: 'dynamodb:GetItem', keys: [`ORG#${own}0`] }],
    ['a key with its id after another prefix', { action: 'dynamodb:GetItem', keys: [`ORG#x#${own}`] }],
    ['the per-user claims', { action: 'dynamodb:GetItem', keys: [`USER#${sub}`] }],
    ['Scan (no leading key)', { action: 'dynamodb:Scan' }],
    ['PartiQL ExecuteStatement', { action: 'dynamodb:PartiQLSelect' }],
    ['PutItem on its own organisation', { action: 'dynamodb:PutItem', keys: [`ORG#${own}`] }],
    ['UpdateItem on its own organisation', { action: 'dynamodb:UpdateItem', keys: [`ORG#${own}`] }],
    ['DeleteItem on its own organisation', { action: 'dynamodb:DeleteItem', keys: [`ORG#${own}`] }],
    ['BatchWriteItem on its own organisation', { action: 'dynamodb:BatchWriteItem', keys: [`ORG#${own}`] }],
    ['BatchWriteItem on its data', { action: 'dynamodb:BatchWriteItem', keys: [`ORG#${own}#projects`] }],
    ["PutItem on another tenant's data", { action: 'dynamodb:PutItem', keys: [`ORG#${other}#projects`] }],
    ['PutItem on a key that only starts with its id', { action: 'dynamodb:PutItem', keys: [`ORG#${own}0#a`] }],
    ['PutItem on a public partition', { action: 'dynamodb:PutItem', keys: ['PUBLIC#pricing'] }],
    ['PutItem on the per-user items', { action: 'dynamodb:PutItem', keys: [`USER#${sub}`] }],
    ['PutItem on its invitations', { action: 'dynamodb:PutItem', keys: [`INVITATION#${own}`] }],
    ['a Query on an index', { action: 'dynamodb:Query', keys: [`ORG#${own}`], resource: `${table}/index/by-owner` }],
    [
      'another table',
      { action: 'dynamodb:GetItem', keys: [`ORG#${own}`], resource: table.replace(/table\/[^/]+$/, 'table/billing') },
    ],
    ['DescribeTable', { action: 'dynamodb:DescribeTable' }],
  ]
  return { allowed, denied }
}

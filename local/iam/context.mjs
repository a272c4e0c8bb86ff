// The IAM request context of a DynamoDB API call, as DynamoDB documents it: the action, the
// table or index ARN, and the condition keys dynamodb:LeadingKeys (the partition key values the
// request touches), dynamodb:Attributes, dynamodb:Select and dynamodb:ReturnValues.
// ("Using IAM policy conditions for fine-grained access control", DynamoDB developer guide.)
//
// One call can be several authorisations: a batch across tables is one per table, and a
// transaction is one per item, each with its own action (TransactWriteItems is authorised as
// PutItem, UpdateItem, DeleteItem and ConditionCheckItem on each item).
//
// Fail closed: anything this cannot read with certainty throws Underivable, and the gateway
// denies the request. It never guesses a key.

export class Underivable extends Error {}

const fail = (message) => {
  throw new Underivable(message)
}

// tables: { [name]: { arn, partitionKey, indexes: { [indexName]: partitionKey } } }
export function requestContext(operation, body, tables) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('the body is not a JSON object')
  const derive = OPERATIONS[operation]
  if (!derive) fail(`${operation} is not an operation this gateway can authorise`)
  return derive(body, (name) => table(tables, name))
}

function table(tables, name) {
  if (typeof name !== 'string' || !name) fail('TableName is missing')
  const found = tables[name]
  // A table the template does not declare: its ARN is still well defined, its keys are not.
  if (!found) return { name, arn: `${arnPrefix(tables)}${name}`, partitionKey: undefined, indexes: {} }
  return { name, ...found }
}

// The ARN prefix shared by the known tables ("arn:aws:dynamodb:<region>:<account>:table/").
function arnPrefix(tables) {
  const any = Object.values(tables)[0]
  if (!any) fail('no table is known')
  return any.arn.slice(0, any.arn.lastIndexOf('/') + 1)
}

function keyValue(key, partitionKey, where) {
  if (!partitionKey) fail(`${where}: the table's partition key is unknown`)
  if (typeof key !== 'object' || key === null) fail(`${where}: no key`)
  const value = key[partitionKey]
  if (value === undefined) fail(`${where}: the key has no ${partitionKey}`)
  return scalar(value, where)
}

function scalar(value, where) {
  if (typeof value !== 'object' || value === null) fail(`${where}: not an attribute value`)
  const types = Object.keys(value)
  if (types.length !== 1) fail(`${where}: not a single attribute value`)
  const [type] = types
  if (type === 'S' && typeof value.S === 'string') return value.S
  if (type === 'N' && typeof value.N === 'string') return value.N
  fail(`${where}: a ${type} partition key value cannot be compared as a string`)
}

function names(expression, placeholders, where) {
  // Attribute paths of a projection: "#a, b.c, d[0]" -> the top-level names.
  return expression.split(',').map((path) => {
    const top = path.trim().split(/[.[]/)[0]
    return resolveName(top, placeholders, where)
  })
}

function resolveName(token, placeholders, where) {
  if (token.startsWith('#')) {
    const name = placeholders?.[token]
    if (typeof name !== 'string') fail(`${where}: ${token} has no ExpressionAttributeNames entry`)
    return name
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) fail(`${where}: cannot read the name ${token}`)
  return token
}

function readAttributes(body, where) {
  if (body.ProjectionExpression !== undefined) {
    if (typeof body.ProjectionExpression !== 'string') fail(`${where}: ProjectionExpression`)
    return names(body.ProjectionExpression, body.ExpressionAttributeNames, where)
  }
  if (body.AttributesToGet !== undefined) {
    if (!Array.isArray(body.AttributesToGet)) fail(`${where}: AttributesToGet`)
    return body.AttributesToGet
  }
  return undefined
}

function context({ action, resource, keys, attributes, select, returnValues }) {
  const variables = {}
  if (keys !== undefined) variables['dynamodb:LeadingKeys'] = [...new Set(keys)]
  if (attributes !== undefined) variables['dynamodb:Attributes'] = [...new Set(attributes)]
  if (select !== undefined) variables['dynamodb:Select'] = select
  if (returnValues !== undefined) variables['dynamodb:ReturnValues'] = returnValues
  return { action: `dynamodb:${action}`, resource, contextVariables: variables }
}

function item(action, body, lookup, where = action) {
  const t = lookup(body.TableName)
  const key = action === 'PutItem' ? body.Item : body.Key
  return context({
    action,
    resource: t.arn,
    keys: [keyValue(key, t.partitionKey, where)],
    attributes:
      action === 'PutItem'
        ? Object.keys(body.Item)
        : action === 'GetItem'
          ? readAttributes(body, where)
          : updatedAttributes(body, where),
    returnValues: body.ReturnValues,
  })
}

// The attributes an UpdateItem writes: the names its UpdateExpression (or AttributeUpdates) sets.
function updatedAttributes(body, where) {
  if (body.UpdateExpression === undefined) {
    return body.AttributeUpdates === undefined ? undefined : Object.keys(body.AttributeUpdates)
  }
  if (typeof body.UpdateExpression !== 'string') fail(`${where}: UpdateExpression`)
  const clauses = body.UpdateExpression.split(/\b(SET|REMOVE|ADD|DELETE)\b/i).filter((part) => part.trim())
  const attributes = []
  for (let i = 0; i < clauses.length; i += 2) {
    const verb = clauses[i].toUpperCase()
    const rest = clauses[i + 1]
    if (!['SET', 'REMOVE', 'ADD', 'DELETE'].includes(verb) || rest === undefined)
      fail(`${where}: cannot read the UpdateExpression`)
    for (const action of splitTopLevel(rest, ',')) {
      const target = verb === 'SET' ? action.split('=')[0] : action.trim().split(/\s+/)[0]
      attributes.push(resolveName(target.trim().split(/[.[]/)[0], body.ExpressionAttributeNames, where))
    }
  }
  return attributes
}

function splitTopLevel(text, separator) {
  const parts = []
  let depth = 0
  let current = ''
  for (const character of text) {
    if (character === '(') depth += 1
    if (character === ')') depth -= 1
    if (character === separator && depth === 0) {
      parts.push(current)
      current = ''
    } else current += character
  }
  parts.push(current)
  return parts.filter((part) => part.trim())
}

// The partition key value a Query's key condition fixes: `pk = :v` (either way round, names
// and values through their placeholders), or the legacy KeyConditions.
function queriedKey(body, partitionKey, where) {
  if (!partitionKey) fail(`${where}: the partition key is unknown`)
  if (body.KeyConditionExpression !== undefined) {
    if (typeof body.KeyConditionExpression !== 'string') fail(`${where}: KeyConditionExpression`)
    if (body.KeyConditions !== undefined) fail(`${where}: KeyConditions and KeyConditionExpression together`)
    // DynamoDB's key condition grammar, read whole: `pk = :v`, optionally AND one sort-key
    // condition (= < <= > >= :v, BETWEEN :a AND :b, begins_with(sk, :v)). Every condition must
    // be read; one that cannot be is a denial, never skipped (a skipped one could name another
    // tenant's partition that the store would still apply).
    const text = body.KeyConditionExpression.trim()
    const unread = text.replace(/\bbegins_with\s*\(\s*#?[A-Za-z0-9_]+\s*,\s*:[A-Za-z0-9_]+\s*\)/gi, '')
    if (/[()]/.test(unread)) fail(`${where}: parentheses in the key condition are not read`)
    const between = /\bbetween\s+(:[A-Za-z0-9_]+)\s+and\s+(:[A-Za-z0-9_]+)/gi
    const conditions = text.replace(between, 'BETWEEN $1 \u0001 $2').split(/\s+and\s+/i)
    if (conditions.length > 2) fail(`${where}: more than two key conditions`)
    const found = []
    for (const raw of conditions) {
      const condition = raw.trim()
      const equality = condition.match(/^([#:]?[A-Za-z0-9_]+)\s*=\s*([#:]?[A-Za-z0-9_]+)$/)
      const comparison = condition.match(/^([#]?[A-Za-z0-9_]+)\s*(<=|>=|<|>|=)\s*(:[A-Za-z0-9_]+)$/)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: \u0001 is the BETWEEN's AND, set aside before the split on AND
      const ranged = condition.match(/^([#]?[A-Za-z0-9_]+)\s+BETWEEN\s+(:[A-Za-z0-9_]+) \u0001 (:[A-Za-z0-9_]+)$/i)
      const prefix = condition.match(/^begins_with\s*\(\s*([#]?[A-Za-z0-9_]+)\s*,\s*(:[A-Za-z0-9_]+)\s*\)$/i)
      let name
      let values
      if (equality) {
        const [, left, right] = equality
        ;[name, values] = left.startsWith(':') ? [right, [left]] : [left, [right]]
        if (name.startsWith(':') || !values[0].startsWith(':'))
          fail(`${where}: cannot read the key condition ${condition}`)
      } else if (comparison) [name, values] = [comparison[1], [comparison[3]]]
      else if (ranged) [name, values] = [ranged[1], [ranged[2], ranged[3]]]
      else if (prefix) [name, values] = [prefix[1], [prefix[2]]]
      else fail(`${where}: cannot read the key condition ${condition}`)
      for (const value of values) {
        if (body.ExpressionAttributeValues?.[value] === undefined)
          fail(`${where}: ${value} has no ExpressionAttributeValues entry`)
      }
      const attribute = resolveName(name, body.ExpressionAttributeNames, where)
      if (attribute === partitionKey) {
        if (!equality) fail(`${where}: ${partitionKey} may only be compared with =`)
        found.push(scalar(body.ExpressionAttributeValues[values[0]], where))
      }
    }
    if (found.length !== 1) fail(`${where}: the key condition does not fix ${partitionKey} exactly once`)
    return found[0]
  }
  const legacy = body.KeyConditions?.[partitionKey]
  if (legacy?.ComparisonOperator === 'EQ' && legacy.AttributeValueList?.length === 1) {
    return scalar(legacy.AttributeValueList[0], where)
  }
  fail(`${where}: no key condition on ${partitionKey}`)
}

function onTableOrIndex(t, body, where) {
  if (body.IndexName === undefined) return { resource: t.arn, partitionKey: t.partitionKey }
  if (typeof body.IndexName !== 'string') fail(`${where}: IndexName`)
  return { resource: `${t.arn}/index/${body.IndexName}`, partitionKey: t.indexes?.[body.IndexName] }
}

const OPERATIONS = {
  GetItem: (body, lookup) => [item('GetItem', body, lookup)],
  PutItem: (body, lookup) => [item('PutItem', body, lookup)],
  UpdateItem: (body, lookup) => [item('UpdateItem', body, lookup)],
  DeleteItem: (body, lookup) => [item('DeleteItem', body, lookup)],
  Query: (body, lookup) => {
    const t = lookup(body.TableName)
    const target = onTableOrIndex(t, body, 'Query')
    return [
      context({
        action: 'Query',
        resource: target.resource,
        keys: [queriedKey(body, target.partitionKey, 'Query')],
        attributes: readAttributes(body, 'Query'),
        select: body.Select,
      }),
    ]
  },
  // No key at all: dynamodb:LeadingKeys is absent, and a Null guard denies it.
  Scan: (body, lookup) => {
    const t = lookup(body.TableName)
    const target = onTableOrIndex(t, body, 'Scan')
    return [
      context({
        action: 'Scan',
        resource: target.resource,
        attributes: readAttributes(body, 'Scan'),
        select: body.Select,
      }),
    ]
  },
  BatchGetItem: (body, lookup) =>
    perTable(
      body,
      'BatchGetItem',
      (t, request, where) => {
        if (!Array.isArray(request?.Keys) || request.Keys.length === 0) fail(`${where}: no Keys`)
        return context({
          action: 'BatchGetItem',
          resource: t.arn,
          keys: request.Keys.map((key) => keyValue(key, t.partitionKey, where)),
          attributes: readAttributes(request, where),
        })
      },
      lookup,
    ),
  BatchWriteItem: (body, lookup) =>
    perTable(
      body,
      'BatchWriteItem',
      (t, requests, where) => {
        if (!Array.isArray(requests) || requests.length === 0) fail(`${where}: no requests`)
        const keys = requests.map((request) => {
          if (request?.PutRequest) return keyValue(request.PutRequest.Item, t.partitionKey, where)
          if (request?.DeleteRequest) return keyValue(request.DeleteRequest.Key, t.partitionKey, where)
          return fail(`${where}: neither PutRequest nor DeleteRequest`)
        })
        return context({ action: 'BatchWriteItem', resource: t.arn, keys })
      },
      lookup,
    ),
  TransactGetItems: (body, lookup) => transact(body, { Get: 'GetItem' }, lookup),
  TransactWriteItems: (body, lookup) =>
    transact(
      body,
      { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' },
      lookup,
    ),
  DescribeTable: (body, lookup) => [context({ action: 'DescribeTable', resource: lookup(body.TableName).arn })],
  ExecuteStatement: partiql,
  BatchExecuteStatement: partiql,
  ExecuteTransaction: partiql,
}

function perTable(body, operation, derive, lookup) {
  const requests = body.RequestItems
  if (typeof requests !== 'object' || requests === null || Object.keys(requests).length === 0) {
    fail(`${operation}: no RequestItems`)
  }
  return Object.entries(requests).map(([name, request]) => derive(lookup(name), request, `${operation} ${name}`))
}

function transact(body, kinds, lookup) {
  if (!Array.isArray(body.TransactItems) || body.TransactItems.length === 0) fail('no TransactItems')
  return body.TransactItems.map((entry, index) => {
    const kind = Object.keys(entry ?? {}).find((name) => name in kinds)
    if (!kind || Object.keys(entry).length !== 1) fail(`TransactItems[${index}]: not one of ${Object.keys(kinds)}`)
    const action = kinds[kind]
    const request = entry[kind]
    if (action === 'ConditionCheckItem') {
      const t = lookup(request.TableName)
      return context({
        action,
        resource: t.arn,
        keys: [keyValue(request.Key, t.partitionKey, `TransactItems[${index}]`)],
      })
    }
    return item(action, request, lookup, `TransactItems[${index}]`)
  })
}

// PartiQL: the action follows the statement's verb; its keys would need the statement parsed,
// which this gateway does not do, so the tenant's request is denied (a Null guard would deny
// a request without keys anyway).
function partiql() {
  fail('PartiQL statements are not parsed for their keys')
}

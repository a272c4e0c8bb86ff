// A few items to read: each organisation's projects and the public price list, written with the
// harness's administrator keys (the function writes the organisation and membership records).
import { PutItemCommand } from '@aws-sdk/client-dynamodb'
import { admin, stack } from '../../local/client.mjs'

const S = (value) => ({ S: value })

export async function seedPublic() {
  for (const [plan, price] of [
    ['basic', '0'],
    ['pro', '49'],
  ]) {
    await admin.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: { PK: S('PUBLIC#pricing'), SK: S(`PLAN#${plan}`), plan: S(`${plan}: ${price} a month`) },
      }),
    )
  }
}

export async function seedProjects(org, names) {
  for (const [index, name] of names.entries()) {
    await admin.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: { PK: S(`ORG#${org}#projects`), SK: S(`P#${index + 1}`), name: S(name) },
      }),
    )
  }
}

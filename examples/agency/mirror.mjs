// Keeps a local copy of what a key may see, in step with logbook's change feed (Node.js 18+,
// no package needed).
//
//     node mirror.mjs https://logbook.example/graphql TOKEN mirror.json
//
// The copy (a JSON file) holds the records by "KIND key" and the cursor to read on from.
// Prints one JSON line: events applied, and records held per kind.
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';

const [url, token, path] = process.argv.slice(2);
const copy = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : { after: null, records: {} };
const query = `query Changes($after: String) {
  changes(after: $after, first: 500) {
    edges { node { entity key kind record {
      ... on Household { houseCode headName updatedAt }
      ... on Member { citizenId houseCode firstName updatedAt }
      ... on Problem { id houseCode status updatedAt }
      ... on Analysis { attitude updatedAt }
      ... on LogbookEntry { id problemId date status updatedAt } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

let applied = 0;
for (;;) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables: { after: copy.after } }),
  });
  if (res.status === 429) {
    // over the key's cost budget: wait as told
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') || 1)));
    continue;
  }
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  const page = body.data.changes;
  for (const { node } of page.edges) {
    const id = `${node.entity} ${node.key}`;
    if (node.kind === 'UPSERTED') copy.records[id] = node.record;
    else delete copy.records[id];
    applied += 1;
  }
  copy.after = page.pageInfo.endCursor ?? copy.after;
  // the copy and its cursor are written together
  writeFileSync(`${path}.tmp`, JSON.stringify(copy));
  renameSync(`${path}.tmp`, path);
  if (!page.pageInfo.hasNextPage) break;
}
const held = {};
for (const id of Object.keys(copy.records)) {
  const kind = id.split(' ')[0];
  held[kind] = (held[kind] ?? 0) + 1;
}
console.log(JSON.stringify({ applied, records: held }));

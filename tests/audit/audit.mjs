// Runs graphql-http's server audits against a logbook server and prints one JSON array:
// [{ id, name, status, reason }]. Usage: node audit.mjs URL TOKEN
// Every request carries the key: logbook answers nothing without one.
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node audit.mjs URL TOKEN');
  process.exit(2);
}
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  const r = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: r.status, reason: r.reason ?? null });
}
console.log(JSON.stringify(results));

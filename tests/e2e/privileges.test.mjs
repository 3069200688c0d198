// Least privilege at run time (docs/reliability.md, "Least privilege"): each service whose
// per-service URL is set connects to PostgreSQL as that URL's role, not as the owner; the query
// API holds no broker credentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sql, DATABASE_URL, READ_DATABASE_URL } from './lib.mjs';

// [application_name, the variable of its URL, the owner's URL of that database]. On a cluster
// stack the query API's pool is on the read replica and its notifier on the primary
// (QUERY_LISTEN_DATABASE_URL, docs/scaling.md): each is looked for on the server its URL names.
const services = [
  ['command-api', 'COMMAND_DATABASE_URL', DATABASE_URL],
  ['relay', 'RELAY_DATABASE_URL', DATABASE_URL],
  ['query-api', 'QUERY_DATABASE_URL', READ_DATABASE_URL],
  ['query-api-notifier', 'QUERY_LISTEN_DATABASE_URL', READ_DATABASE_URL],
];

// The owner's URL on the server (host and port) that url names.
function ownerOn(ownerUrl, url) {
  const u = new URL(ownerUrl);
  u.host = new URL(url).host;
  return u.toString();
}

test('each service connects as its own role', (t) => {
  for (const [app, variable, ownerUrl] of services) {
    const url = process.env[variable];
    if (!url) {
      t.diagnostic(`${variable} is not set: ${app} connects as the owner`);
      continue;
    }
    const role = decodeURIComponent(new URL(url).username);
    const seen = sql(ownerOn(ownerUrl, url), `SELECT string_agg(DISTINCT usename, ',')
                                              FROM pg_stat_activity WHERE application_name = '${app}'`);
    assert.equal(seen, role, `${app} connects as ${role}`);
  }
});

test('the query API holds no broker credentials', () => {
  const pidFile = path.join(process.env.STATE_DIR ?? '', 'run', 'query-api.pid');
  const pid = fs.readFileSync(pidFile, 'utf8').trim();
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  assert.deepEqual(env.filter((kv) => /^BROKER_URL=/.test(kv)).map((kv) => kv.split('=')[0]), []);
});

// The query API's one notifier (docs/architecture.md, "One notifier, one parking lot"): one
// LISTEN connection and one helper thread wake its event streams and its read-your-writes waits,
// whatever is open. Counted on the running process: its threads (/proc/<pid>/task) and its
// connections to the read DB that are not the pool's (pg_stat_activity, matched to the process's
// sockets by port).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { readSql, QUERY_URL } from './lib.mjs';

const PID_FILE = process.env.STATE_DIR && path.join(process.env.STATE_DIR, 'run', 'query-api.pid');
const skip = !(PID_FILE && fs.existsSync(PID_FILE)) && 'needs STATE_DIR with the query API\'s pid (tests/run.sh)';

const pidOf = () => fs.readFileSync(PID_FILE, 'utf8').trim();

// the names of the process's threads that are not libmicrohttpd's pool
function helperThreads(pid) {
  return fs.readdirSync(`/proc/${pid}/task`)
    .map((t) => fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim())
    .filter((name) => !name.startsWith('MHD-'));
}

// the local TCP ports of the process's sockets
function localPorts(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const ports = [];
  for (const file of ['tcp', 'tcp6']) {
    let text = '';
    try { text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}

// the application names of the process's sessions in the read DB, other than its pool's
function listenerSessions(pid) {
  const ports = localPorts(pid);
  assert.ok(ports.length > 0, 'the query API has sockets');
  const out = readSql(`SELECT coalesce(string_agg(application_name, ',' ORDER BY application_name), '')
    FROM pg_stat_activity WHERE client_port IN (${ports.join(',')})
    AND application_name <> 'query-api' AND pid <> pg_backend_pid()`);
  return out === '' ? [] : out.split(',');
}

// opens an event stream and keeps it open until close() (the first bytes arrived)
function openStream(p) {
  return new Promise((resolve, reject) => {
    const req = http.get(QUERY_URL + p, (res) => {
      res.once('data', () => resolve({ close: () => req.destroy() }));
    });
    req.on('error', (e) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
  });
}

test('the query API holds one LISTEN connection and one helper thread, streams open or not', { skip }, async () => {
  const pid = pidOf();
  assert.deepEqual(listenerSessions(pid), ['query-api-notifier']);
  const streams = await Promise.all([openStream('/api/moods/stream'), openStream('/api/dashboard/stream')]);
  try {
    const sessions = listenerSessions(pid);
    assert.deepEqual(sessions, ['query-api-notifier'], `listening sessions: ${sessions}`);
    const threads = helperThreads(pid);
    assert.equal(threads.length, 2, `threads besides MHD's pool (main and the notifier): ${threads}`);
  } finally {
    for (const s of streams) s.close();
  }
});

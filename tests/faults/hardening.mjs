// Helpers of the hardening fault tests (13.x in faults.test.mjs): requests from a chosen
// loopback address, a row lock held by a psql session, and a supervisor that restarts a service
// that died (as systemd or Docker would).
import http from 'node:http';
import { spawn } from 'node:child_process';
import { text as readText } from 'node:stream/consumers';
import { pidOf, startServices, sleep, now } from './stack.mjs';

const COMMAND_URL = process.env.COMMAND_URL ?? 'http://127.0.0.1:8080';

// One request to the command API from localAddress (127.0.0.x). Never throws: status 0 means the
// connection closed without an answer. Resolves with {status, headers, json, text, ms}.
export function commandFrom(localAddress, method, path, body, { token = true, timeoutMs = 60000 } = {}) {
  const url = new URL(path, COMMAND_URL);
  const t0 = now();
  const headers = { 'Content-Type': 'application/json' };
  if (token && process.env.COMMAND_API_TOKEN) headers.Authorization = `Bearer ${process.env.COMMAND_API_TOKEN}`;
  return new Promise((resolve) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method, headers, localAddress, agent: false,
      timeout: timeoutMs,
    }, (res) => {
      readText(res).then((text) => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, json, text, ms: now() - t0 });
      }, (e) => resolve({ status: 0, text: String(e), ms: now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, text: String(e), ms: now() - t0 }));
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

// Opens a psql session on url that runs lockSql inside a transaction and keeps it open;
// release() commits and ends the session.
export async function holdLock(url, lockSql) {
  const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.stdin.write(`BEGIN;\n${lockSql};\nSELECT 'locked';\n`);
  const deadline = now() + 10000;
  while (!out.includes('locked')) {
    if (now() > deadline || child.exitCode !== null) throw new Error(`could not take the lock: ${out}`);
    await sleep(20);
  }
  return {
    async release() {
      child.stdin.end('COMMIT;\n');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
    },
  };
}

// Restarts name (with env) whenever it is found dead, until stop(); counts the restarts.
export function supervise(name, env = {}) {
  const s = { restarts: 0, running: true };
  s.done = (async () => {
    while (s.running) {
      if (!pidOf(name)) {
        s.restarts += 1;
        try {
          await startServices([name], env);
        } catch {
          /* it died during its start-up: the next round starts it again */
        }
      }
      await sleep(100);
    }
  })();
  s.stop = async () => {
    s.running = false;
    await s.done;
  };
  return s;
}

// Helpers of the seeds suite: the seeds' commands as their READMEs write them (plain JSON
// requests, no token), and the nginx gateway of docker/gateway run for real on free ports.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, eventually } from '../e2e/lib.mjs';

export { COMMAND_URL, QUERY_URL, call, eventually, writeSql, readSql, brokerQueues } from '../e2e/lib.mjs';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

// A seed's client sends no token. Only while the command API is run with one
// (COMMAND_API_TOKEN set) is it added, as a deployment would configure its clients.
const TOKEN = process.env.COMMAND_API_TOKEN ?? '';
export const seedHeaders = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};

// curl -X METHOD URL -H 'Content-Type: application/json' -d BODY
export const post = (url, body) => call('POST', url, body, seedHeaders);
export const put = (url, body) => call('PUT', url, body, seedHeaders);
export const del = (url) => call('DELETE', url, undefined, seedHeaders);
// curl URL
export const get = (url) => call('GET', url);

// Polls GET url until it answers 200 and predicate(body) holds; returns the body.
export async function getWhen(url, predicate = () => true, timeoutMs = 10000) {
  return eventually(async () => {
    const r = await get(url);
    return r.status === 200 && predicate(r.json) ? r.json : false;
  }, timeoutMs, `GET ${url}`);
}

let seq = 0;
// A product of the catalogue (the project's POST /api/products): the seeds' product ids name one.
export async function catalogueProduct(commandUrl, fields = {}) {
  seq += 1;
  const body = { name: `Seed product ${process.pid}-${seq}`, category: 'Seeds', price: 49.99, stock: 20, ...fields };
  const r = await call('POST', `${commandUrl}/api/products`, body, seedHeaders);
  if (r.status !== 201) throw new Error(`could not create a product: ${r.status} ${r.text}`);
  return r.json.productId;
}

function freePorts(n) {
  return execFileSync(path.join(REPO_ROOT, 'scripts/free-port.sh'), [String(n)], { encoding: 'utf8' })
    .trim().split('\n').map(Number);
}

// Renders docker/gateway/default.conf.template as the official image does (envsubst of the named
// variables only, so nginx's own $variables stay), for the given upstreams and 127.0.0.1 listeners.
export function renderGateway(vars) {
  const template = path.join(REPO_ROOT, 'docker/gateway/default.conf.template');
  const names = Object.keys(vars).map((k) => '${' + k + '}').join(' ');
  return execFileSync('envsubst', [names], {
    input: readFileSync(template, 'utf8'),
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...vars },
  });
}

// Starts nginx (a child process, its pid ours) with the rendered gateway in a temp prefix.
// Returns { gatewayUrl, querySideUrl, stop }; stop() ends it and removes the prefix.
export async function startGateway(commandUrl, queryUrl) {
  const [gatewayPort, querySidePort] = freePorts(2);
  const prefix = mkdtempSync(path.join(tmpdir(), 'seeds-gateway-'));
  mkdirSync(path.join(prefix, 'conf.d'));
  mkdirSync(path.join(prefix, 'tmp'));
  const hostPort = (u) => new URL(u).host;
  writeFileSync(path.join(prefix, 'conf.d/gateway.conf'), renderGateway({
    COMMAND_UPSTREAM: hostPort(commandUrl),
    QUERY_UPSTREAM: hostPort(queryUrl),
    CQRS_GATEWAY_LISTEN: `127.0.0.1:${gatewayPort}`,
    QUERY_SIDE_LISTEN: `127.0.0.1:${querySidePort}`,
  }));
  // the parts of the official image's /etc/nginx/nginx.conf the template relies on, with every
  // file in the prefix; one process (no master), so the pid we hold is nginx's
  writeFileSync(path.join(prefix, 'nginx.conf'), `daemon off;
master_process off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
    access_log ${prefix}/access.log;
    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    default_type application/octet-stream;
    include ${prefix}/conf.d/*.conf;
}
`);
  const child = spawn('nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', path.join(prefix, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = false;
  const done = new Promise((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  const kill = () => { if (!exited) child.kill('SIGKILL'); };
  process.on('exit', kill); // never left running, whatever happens to the test
  const errorLog = () => { try { return readFileSync(path.join(prefix, 'error.log'), 'utf8'); } catch { return ''; } };

  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const querySideUrl = `http://127.0.0.1:${querySidePort}`;
  const stop = async () => {
    if (!exited) {
      child.kill('SIGQUIT'); // graceful: finish the open requests, then exit
      const timer = setTimeout(kill, 5000);
      await done;
      clearTimeout(timer);
    }
    process.off('exit', kill);
    rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await eventually(async () => {
      if (exited) throw new Error(`nginx exited: ${output} ${errorLog()}`);
      const [a, b] = await Promise.all([fetch(`${gatewayUrl}/`), fetch(`${querySideUrl}/health`)]);
      await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
      return true;
    }, 10000, 'nginx to answer on both listeners');
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n${output}\n${errorLog()}`);
  }
  return { gatewayUrl, querySideUrl, pid: child.pid, stop };
}

// Control of the throwaway stack that tests/faults/run.sh started: the four services (through
// scripts/services.sh), extra relays and consumers, kill -9, PostgreSQL and RabbitMQ restarts,
// log watching, SQL through psql and the broker's queues.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const execFileP = promisify(execFile);
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const STATE_DIR = process.env.STATE_DIR;
export const LOG_DIR = path.join(STATE_DIR ?? '.', 'logs');
export const RUN_DIR = path.join(STATE_DIR ?? '.', 'run');
export const BIN_DIR = process.env.BIN_DIR ?? path.join(REPO_ROOT, 'build/bin');
export const QUEUE = process.env.AMQP_QUEUE ?? 'read_model';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => Date.now();

const script = (name) => path.join(REPO_ROOT, 'scripts', name);

async function run(cmd, args, env = {}) {
  const { stdout } = await execFileP(cmd, args, {
    env: { ...process.env, ...env }, cwd: REPO_ROOT, maxBuffer: 64 << 20,
  });
  return stdout;
}

// --- services ------------------------------------------------------------------------------
export const ALL = ['command-api', 'query-api', 'relay', 'consumer'];

export function pidOf(name) {
  try {
    const pid = Number(fs.readFileSync(path.join(RUN_DIR, `${name}.pid`), 'utf8').trim());
    return pid > 0 && fs.existsSync(`/proc/${pid}`) && !isZombie(pid) ? pid : 0;
  } catch {
    return 0;
  }
}

function isZombie(pid) {
  try {
    return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

// Starts services (default: all); env adds variables (e.g. a fault hook) for this start only.
export async function startServices(names = ALL, env = {}) {
  await run(script('services.sh'), ['start', ...names], env);
}

export async function stopServices(names = ALL) {
  await run(script('services.sh'), ['stop', ...names]);
}

// kill -9; waits until the process is gone.
export async function kill9(pid) {
  if (!pid) throw new Error('kill9: no such process');
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 200 && fs.existsSync(`/proc/${pid}`) && !isZombie(pid); i++) await sleep(25);
}

// An extra relay or consumer beside the one of services.sh, with its own log and pid file
// (run/extra-<label>.pid, which tests/faults/run.sh's clean-up also knows).
export function startExtra(name, label, env = {}) {
  const log = fs.openSync(path.join(LOG_DIR, `${label}.log`), 'a');
  const child = spawn(path.join(BIN_DIR, name), [], {
    env: { ...process.env, ...env }, stdio: ['ignore', log, log], detached: true,
  });
  fs.closeSync(log);
  fs.writeFileSync(path.join(RUN_DIR, `extra-${label}.pid`), String(child.pid));
  child.unref();
  return child.pid;
}

export async function stopExtra(label, signal = 'SIGTERM') {
  const file = path.join(RUN_DIR, `extra-${label}.pid`);
  const pid = Number(fs.readFileSync(file, 'utf8'));
  try {
    process.kill(pid, signal);
  } catch {
    /* gone already */
  }
  for (let i = 0; i < 400 && fs.existsSync(`/proc/${pid}`) && !isZombie(pid); i++) await sleep(25);
  fs.rmSync(file, { force: true });
}

// --- logs ----------------------------------------------------------------------------------
export const logPath = (label) => path.join(LOG_DIR, `${label}.log`);

export function logSize(label) {
  try {
    return fs.statSync(logPath(label)).size;
  } catch {
    return 0;
  }
}

// The text a log gained since offset.
export function logSince(label, offset) {
  try {
    const fd = fs.openSync(logPath(label), 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    return buf.toString('utf8');
  } catch {
    return '';
  }
}

// Waits until a line matching re appears in the log after offset; returns the line.
export async function waitLog(label, offset, re, timeoutMs = 30000) {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const line = logSince(label, offset).split('\n').find((l) => re.test(l));
    if (line) return line;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${re} in ${label}.log`);
}

// Counts lines matching re in the log after offset.
export const countLog = (label, offset, re) =>
  logSince(label, offset).split('\n').filter((l) => re.test(l)).length;

// Sum of a numeric logfmt key over the matching lines after offset.
export function sumLogKey(label, offset, re, key) {
  const k = new RegExp(`\\b${key}=(\\d+)`);
  return logSince(label, offset).split('\n').filter((l) => re.test(l))
    .reduce((s, l) => s + Number((l.match(k) ?? [0, 0])[1]), 0);
}

// --- servers -------------------------------------------------------------------------------
// The script that drives the stack's broker: scripts/rabbit.sh, or scripts/rabbit-cluster.sh on
// a cluster stack (TEST_STACK=cluster, set by the drivers: tests/run.sh, tests/faults/run.sh,
// tests/cluster/run.sh). Both take start, stop, queues, policies and ctl ARGS; the cluster's act
// on all three nodes (start, stop) or on the first that runs (queues, policies, ctl).
export const BROKER_SCRIPT = script(process.env.TEST_STACK === 'cluster' ? 'rabbit-cluster.sh' : 'rabbit.sh');
export const broker = (...args) => run(BROKER_SCRIPT, args);
export const pgStop = () => run(script('pg.sh'), ['stop']);
export const pgStart = () => run(script('pg.sh'), ['start']);
export const rabbitStop = () => broker('stop');
export const rabbitStart = () => broker('start');
// scripts/rabbit-cluster.sh ARGS (tests/cluster): start, stop, node I start|stop|status, ctl ...
export const rabbitCluster = (...args) => run(script('rabbit-cluster.sh'), args);

// {name: {ready, consumers}} of the vhost's queues (rabbitmqctl: about a second).
export async function queues() {
  const out = await broker('queues');
  const q = {};
  for (const line of out.trim().split('\n')) {
    const [name, ready, consumers] = line.split('\t');
    if (name) q[name] = { ready: Number(ready), consumers: Number(consumers) };
  }
  return q;
}

// --- SQL -----------------------------------------------------------------------------------
// Rows of a query as arrays of text (fields separated by a unit separator).
export function sqlRows(url, statement) {
  const out = execFileSync('psql', ['-X', '-q', '-A', '-t', '-F', '\x1f', '-v', 'ON_ERROR_STOP=1',
    url, '-c', statement], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\x1f'));
}

export const sqlValue = (url, statement) => (sqlRows(url, statement)[0] ?? [''])[0];

export async function sqlValueAsync(url, statement) {
  const out = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', url, '-c', statement]);
  return out.trim();
}

// --- tools ---------------------------------------------------------------------------------
// Publishes body raw to the events exchange (tests/faults/inject.c).
export function inject(routingKey, messageId, body) {
  execFileSync(process.env.INJECT_BIN, [routingKey, messageId], { input: body, env: process.env });
}

// scripts/deadletters.sh; returns {stdout, stderr}.
export async function deadletters(...args) {
  const { stdout, stderr } = await execFileP(script('deadletters.sh'), args, {
    env: process.env, cwd: REPO_ROOT,
  });
  return { stdout, stderr };
}

export async function listDeadLetters() {
  const { stdout } = await deadletters('list');
  const [header, ...lines] = stdout.trim().split('\n');
  const keys = header.split('\t');
  return lines.filter(Boolean).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [keys[i], v])));
}

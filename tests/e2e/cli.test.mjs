// Every binary's command line (lib/service/cli.h): `--help` lists the environment variables the binary
// reads, from the config tables it loads, with their defaults; `--version` names the build and
// the libraries it runs with. The lists are checked against .env.example, the file operators
// copy: every variable a binary reads is there with the same default, and every variable there
// is read by a binary or by the scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const BIN_DIR = process.env.BIN_DIR;
const skip = !BIN_DIR && 'needs BIN_DIR (tests/run.sh)';
const BINARIES = ['command-api', 'query-api', 'relay', 'consumer', 'deadletters'];
const ROOT = path.resolve(import.meta.dirname, '../..');

// .env.example as NAME -> value (the rest of the line after the first '=')
const envExample = new Map(readFileSync(path.join(ROOT, '.env.example'), 'utf8').split('\n')
  .filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l))
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

// The connection strings: .env.example names `make up`'s servers, the binaries have no default
// (or fall back from one variable to another).
const CONNECTIONS = new Set(['DATABASE_URL', 'READ_DATABASE_URL', 'BROKER_URL']);
// Fault-injection knobs of the fault suite (tests/faults), deliberately not in .env.example.
const testOnly = (name) => name.startsWith('FAULT_');
// Read by the scripts only (scripts/pg.sh, scripts/rabbit.sh, scripts/env.sh, compose).
const SCRIPTS_ONLY = ['RABBITMQ_DEFAULT_USER', 'RABBITMQ_DEFAULT_PASS', 'STATE_DIR', 'PG_PORT',
  'AMQP_PORT', 'AMQP_DIST_PORT', 'AMQP_EPMD_PORT', 'MOOD_QUEUE_MAX_LENGTH', 'MOOD_QUEUE_TTL_MS',
  'RABBITMQ_ERLANG_COOKIE', 'QUERY_DB_HOST'];
// make up-cluster's ports and state folder (scripts/stack.sh's stack_cluster_env)
const SCRIPT_PREFIXES = /^CLUSTER_/;

const run = (bin, arg) => execFileSync(path.join(BIN_DIR, bin), [arg], { encoding: 'utf8', env: {} });

// NAME -> default (null when required), from the "  NAME=default" / "  NAME (required)" lines
function helpVars(bin) {
  const vars = new Map();
  for (const line of run(bin, '--help').split('\n')) {
    let m = /^ {2}([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) vars.set(m[1], m[2]);
    else if ((m = /^ {2}([A-Z][A-Z0-9_]*) \(required\)$/.exec(line))) vars.set(m[1], null);
  }
  return vars;
}

for (const bin of BINARIES) {
  test(`${bin} --help lists its variables with the defaults of .env.example`, { skip }, () => {
    const vars = helpVars(bin);
    assert.ok(vars.size >= 4, `${bin} --help listed ${vars.size} variables`);
    assert.ok(vars.has('LOG_LEVEL') || bin === 'deadletters', `${bin} --help lacks LOG_LEVEL`);
    for (const [name, def] of vars) {
      if (testOnly(name)) continue;
      assert.ok(envExample.has(name), `${bin} reads ${name}, which .env.example lacks`);
      if (CONNECTIONS.has(name)) continue;
      assert.equal(def, envExample.get(name), `${bin}'s default for ${name} differs from .env.example`);
    }
  });

  test(`${bin} --version names its version and libraries`, { skip }, () => {
    const out = run(bin, '--version');
    assert.match(out, new RegExp(`^${bin} \\S+\\n`));
    for (const lib of ['libpq', 'libmicrohttpd', 'librabbitmq', 'jansson'])
      assert.match(out, new RegExp(`^${lib} \\d+\\.\\d+`, 'm'), `${bin} --version lacks ${lib}`);
  });
}

test('every variable of .env.example is read by a binary or a script', { skip }, () => {
  const read = new Set(SCRIPTS_ONLY);
  for (const bin of BINARIES) for (const name of helpVars(bin).keys()) read.add(name);
  const unread = [...envExample.keys()].filter((n) => !read.has(n) && !SCRIPT_PREFIXES.test(n));
  assert.deepEqual(unread, [], 'in .env.example but in no --help and not a script variable');
});

test('an unknown argument is a usage error (exit 2)', { skip }, () => {
  for (const bin of BINARIES) {
    assert.throws(() => run(bin, '--no-such-option'), (e) => e.status === 2, bin);
  }
});

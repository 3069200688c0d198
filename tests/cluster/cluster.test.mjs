// The broker cluster end to end (tests/cluster/run.sh starts PostgreSQL and three RabbitMQ nodes;
// the services connect with BROKER_URL listing the three, AMQP_QUEUE_TYPE=quorum). Reuses the
// fault suite's load, helpers and convergence check (tests/faults): lost = an outbox event the
// read DB never recorded, applied twice = an order whose timeline is longer than its version,
// plus every read model against a recomputation from the write DB.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  sleep, now, pidOf, startServices, stopServices, kill9, logSize, logSince, rabbitCluster,
} from '../faults/stack.mjs';
import { Load, createProducts, send } from '../faults/load.mjs';
import { settle, waitOrderVisible } from '../faults/converge.mjs';

const RATE = Number(process.env.CLUSTER_RATE ?? 60);
const LOAD_MS = Number(process.env.CLUSTER_LOAD_MS ?? 15000);
const NODES = process.env.BROKER_URL.split(',');
const VHOST = decodeURIComponent(new URL(NODES[0]).pathname.slice(1)) || '/';
let products;

before(async () => {
  await startServices();
  products = await createProducts(8, 'cluster');
});

after(async () => {
  await stopServices().catch(() => {});
});

// {name: {type, members, online, args}} of the vhost's queues (members: the replicas' count,
// online: those running).
async function queueInfo() {
  const out = await rabbitCluster('ctl', 'list_queues', '-p', VHOST, '--silent', '--no-table-headers',
    'name', 'type', 'members', 'online', 'arguments');
  const q = {};
  const count = (list) => (list.match(/@/g) ?? []).length;
  for (const line of out.trim().split('\n')) {
    const [name, type, members, online, args] = line.split('\t');
    if (name) q[name] = { type, members: count(members), online: count(online), args };
  }
  return q;
}

// The Raft status of the replicas of quorum queues, {queue: [{node, state, log, commit}]}: one
// rabbitmqctl eval of rabbit_quorum_queue:status (what `rabbitmq-queues quorum_status` prints)
// for all of them, each rabbitmqctl call costing a second or two here.
async function replicas(names) {
  const list = names.map((n) => `<<"${n}">>`).join(', ');
  const out = await rabbitCluster('ctl', 'eval',
    `[{Q, rabbit_quorum_queue:status(<<"${VHOST}">>, Q)} || Q <- [${list}]].`);
  const parts = out.split(/\{<<"([^"]+)">>,\s*\[\[/);
  const r = {};
  for (let i = 1; i + 1 < parts.length; i += 2) {
    r[parts[i]] = parts[i + 1].split('<<"Node Name">>').slice(1).map((m) => ({
      node: m.match(/'([^']+)'/)?.[1],
      state: m.match(/<<"Raft State">>,(\w+)/)?.[1],
      log: Number(m.match(/<<"Log Index">>,(\d+)/)?.[1]),
      commit: Number(m.match(/<<"Commit Index">>,(\d+)/)?.[1]),
    }));
  }
  return r;
}

// Polls until every replica of each queue is up and has written and committed what its leader
// has; returns {ms, status} (ms undefined when not within timeoutMs).
async function replicasInSync(names, timeoutMs) {
  const t0 = now();
  let status = {};
  const synced = (rs = []) => {
    const leader = rs.find((r) => r.state === 'leader');
    return rs.length === NODES.length && leader && rs.every((r) =>
      ['leader', 'follower'].includes(r.state) && r.log === leader.log && r.commit === leader.commit);
  };
  while (now() - t0 < timeoutMs) {
    status = await replicas(names).catch(() => ({}));
    if (names.every((n) => synced(status[n]))) return { ms: now() - t0, status };
    await sleep(500);
  }
  return { ms: undefined, status };
}

// The node (1-based) a service's last "connected to rabbitmq" line names, from its log text.
function lastNode(text) {
  const all = [...text.matchAll(/msg="connected to rabbitmq".*? node=(\d+) nodes=(\d+)/g)];
  return all.length ? Number(all.at(-1)[1]) : 0;
}
// The work queue: read_model, or its partitions read_model.p0.. (CONSUMER_PARTITIONS > 1); with
// the retry queue of each layout, the dead queue and the mood queue.
const PARTITIONS = Number(process.env.CONSUMER_PARTITIONS ?? 1);
const WORK = PARTITIONS > 1 ? Array.from({ length: PARTITIONS }, (_, k) => `read_model.p${k}`) : ['read_model'];
const QUEUES = [...WORK, PARTITIONS > 1 ? 'read_model.partitions.retry' : 'read_model.retry', 'read_model.dead', 'mood_events'];
const logText = (name) => fs.readFileSync(path.join(process.env.STATE_DIR, 'logs', `${name}.log`), 'utf8');

test('1. every queue (each partition of the work queue) is a quorum queue on the three nodes, with an explicit delivery limit', async () => {
  assert.equal(NODES.length, 3, 'BROKER_URL does not list three nodes');
  const q = await queueInfo();
  for (const name of QUEUES) {
    assert.ok(q[name], `queue ${name} is missing: ${JSON.stringify(q)}`);
    assert.equal(q[name].type, 'quorum', `${name} is ${q[name].type}`);
    assert.equal(q[name].members, 3, `${name} has ${q[name].members} members`);
    assert.match(q[name].args, /x-delivery-limit/, `${name} has no delivery limit: ${q[name].args}`);
  }
  for (const name of WORK) assert.match(q[name].args, /read_model\.dead/, `${name} does not dead-letter to .dead`);
});

test('2. orders created through the command API reach the read model through the cluster', async () => {
  const ids = [];
  for (let i = 0; i < 20; i++) {
    const r = await send('POST', '/api/orders', {
      customerId: 1 + i, items: [{ productId: products[i % products.length], quantity: 1 }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    ids.push(r.json.orderId);
  }
  for (const id of ids) assert.ok(await waitOrderVisible(id, 30000), `order ${id} never became visible`);
  const conv = await settle('smoke', 60000);
  assert.ok(conv.ok, conv.diffs.slice(0, 20).join('\n'));
});

test('3. a broker node killed -9 under load, started again: 0 lost, 0 applied twice, the node rejoins in sync', async () => {
  const pids = Object.fromEntries(['relay', 'consumer', 'command-api', 'query-api'].map((n) => [n, pidOf(n)]));
  const victim = lastNode(logText('relay')); // the relay's node: its publishes must fail over
  assert.ok(victim >= 1 && victim <= 3, 'the relay logged no node');
  const off = { relay: logSize('relay'), consumer: logSize('consumer') };
  const load = new Load({ products, rate: RATE }).start();
  let stats;
  let downAt;
  try {
    await sleep(4000);
    const pid = Number(fs.readFileSync(path.join(process.env.STATE_DIR, `rabbit-${victim}`, 'rabbit.pid'), 'utf8').trim());
    downAt = now();
    await kill9(pid);
    await sleep(3000);
    await rabbitCluster('node', String(victim), 'start');
    await sleep(Math.max(0, LOAD_MS - (now() - load.startedAt)));
  } finally {
    stats = await load.stop();
  }
  const conv = await settle('node killed', 120000);
  const relayLog = logSince('relay', off.relay);
  assert.ok(conv.ok, `the read model did not converge:\n${conv.diffs.slice(0, 30).join('\n')}`);
  assert.equal(conv.figures.lost, 0, 'events lost');
  assert.equal(conv.figures.appliedTwice, 0, 'events applied twice');
  assert.ok(stats.ok > 100, `too few commands succeeded: ${JSON.stringify(stats)}`);
  assert.equal(stats.hangs, 0, 'a command hung');
  assert.deepEqual(Object.fromEntries(Object.keys(pids).map((n) => [n, pidOf(n)])), pids, 'a service died');
  const failover = lastNode(relayLog);
  assert.ok(failover >= 1 && failover !== victim,
    `the relay did not reconnect to another node (killed ${victim}, reconnected to ${failover})`);
  // the restarted node is back in the cluster, and each queue's replica on it is running and
  // caught up with its leader (Raft log and commit index)
  const victimNode = `cqrs-${new URL(NODES[victim - 1]).port}@localhost`;
  const running = JSON.parse(await rabbitCluster('ctl', 'cluster_status', '--formatter', 'json')).running_nodes;
  assert.ok(running.includes(victimNode), `node ${victimNode} is not running in the cluster: ${running}`);
  const names = QUEUES;
  const q = await queueInfo();
  for (const name of names) {
    assert.equal(q[name].members, 3, `the restarted node is not a member of ${name} again`);
    assert.equal(q[name].online, 3, `${name} has ${q[name].online} replicas online`);
  }
  const r = await replicasInSync(names, 30000);
  assert.ok(r.ms !== undefined, `the replicas did not catch up with their leaders: ${JSON.stringify(r.status)}`);
  const sync = {};
  for (const name of names) {
    assert.ok(r.status[name].some((x) => x.node === victimNode), `${name} has no replica on ${victimNode}`);
    sync[name] = r.status[name].find((x) => x.state === 'leader').commit;
  }
  console.log(`# killed node ${victim} at +${downAt - load.startedAt} ms; relay on node ${failover}; ` +
    `${stats.sent} commands, ${stats.ok} ok; ${conv.figures.outboxEvents} events, settled in ${conv.settleMs} ms; ` +
    `node ${victim} running again, replicas in sync (commit index ${JSON.stringify(sync)})`);
});

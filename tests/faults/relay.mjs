// Helpers of the relay's fault tests (12.x): the broker's rabbitmqctl (stack.mjs's broker script),
// a relay's /health and /metrics, and polling until a condition holds.
import { broker, sleep, now } from './stack.mjs';

// rabbitmqctl ARGS on the test node (a cluster's first running node: the cluster shares vhosts,
// queues and alarms); the vhost of BROKER_URL is in $VHOST (scripts/rabbit.sh ctl).
export const rabbitCtl = async (...args) => (await broker('ctl', ...args)).trim();

// The vhost of BROKER_URL (of its first URL when it lists a cluster's nodes).
export const brokerVhost = () =>
  decodeURIComponent(new URL(process.env.BROKER_URL.split(',')[0]).pathname.slice(1) || '/');

// The memory high watermark the node runs with now (a fraction, or {absolute, N}).
export const memoryWatermark = () =>
  rabbitCtl('eval', 'vm_memory_monitor:get_vm_memory_high_watermark().');

// {status, body} of GET /health of the relay listening on port (status 0: no answer).
export async function relayHealth(port = process.env.RELAY_METRICS_PORT) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, body: await res.json() };
  } catch {
    return { status: 0, body: {} };
  }
}

// The value of an unlabelled metric of the relay on port (NaN when missing or no answer).
export async function relayMetric(name, port = process.env.RELAY_METRICS_PORT) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
    const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  } catch {
    return NaN;
  }
}

// Polls fn (async allowed) every stepMs until it returns a truthy value; returns it, or
// undefined after timeoutMs.
export async function waitFor(fn, timeoutMs, stepMs = 100) {
  const deadline = now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (now() >= deadline) return undefined;
    await sleep(stepMs);
  }
}

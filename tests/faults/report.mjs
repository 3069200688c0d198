// Writes the fault suite's figures: test-artifacts/faults/figures.json, and the generated table
// of docs/reliability.md (between its BEGIN/END markers) only when FAULTS_UPDATE_DOCS=1 (`make reliability-report`).
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { REPO_ROOT } from './stack.mjs';

const BEGIN = '<!-- BEGIN fault figures (written by tests/faults/run.sh) -->';
const END = '<!-- END fault figures -->';

const s = (ms) => (ms === undefined || ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);

// 0 means the first check passed: the read model had caught up within the time that check took.
const catchUp = (r) => (r.settleMs === 0 && r.figures?.checkMs !== undefined
  ? `< ${s(r.figures.checkMs)}` : s(r.settleMs));

export function renderTable(rows, meta) {
  const lines = [
    BEGIN,
    `Latest run: ${meta.finishedAt} on ${meta.host} (${meta.cpus} cores), ${meta.build}; ` +
      `${meta.passed} of ${rows.length} passed, ${meta.totalCommands} commands in ${s(meta.durationMs)}.`,
    '',
    '| # | fault | commands sent | faults injected | events lost | applied twice | out of order | recovery | catch-up | result | what else was seen |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(`| ${r.id} | ${r.fault} | ${r.commands} | ${r.injected} | ${r.lost ?? '-'} | ` +
      `${r.appliedTwice ?? '-'} | ${r.outOfOrder ?? '-'} | ${s(r.recoveryMs)} | ${catchUp(r)} | ` +
      `${r.ok ? 'pass' : '**FAIL**'} | ${r.notes ?? ''} |`);
  }
  lines.push('', 'recovery: from the moment the fault was cleared (process restarted, server back) until an ' +
    'order created after it could be read from the query API; catch-up: from the end of the load ' +
    'until the read model equalled the recomputation from the write DB (< t: it already did at the ' +
    'first check, which took t).', END);
  return lines.join('\n');
}

export function writeReport(rows, meta) {
  const dir = process.env.FAULTS_ARTIFACTS ?? path.join(REPO_ROOT, 'test-artifacts/faults');
  fs.mkdirSync(dir, { recursive: true });
  const full = {
    ...meta, host: os.hostname(), cpus: os.cpus().length,
    passed: rows.filter((r) => r.ok).length,
    totalCommands: rows.reduce((n, r) => n + (r.commands || 0), 0),
  };
  fs.writeFileSync(path.join(dir, 'figures.json'), JSON.stringify({ meta: full, rows }, null, 2));
  const table = renderTable(rows, full);
  fs.writeFileSync(path.join(dir, 'figures.md'), `${table}\n`);
  // only `make reliability-report` rewrites the committed doc; `make test` leaves the tree clean
  if (process.env.FAULTS_UPDATE_DOCS !== '1') return;
  const doc = path.join(REPO_ROOT, 'docs/reliability.md');
  const text = fs.readFileSync(doc, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  fs.writeFileSync(doc, text.slice(0, a) + table + text.slice(b + END.length));
}

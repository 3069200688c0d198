// Conditional GET (lib/http/etag.h): every complete 200 answer to GET carries a strong ETag; the same
// request with If-None-Match naming it is 304 without a body while the answer is unchanged, and
// 200 with a new tag once it changed; event streams and commands carry none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, query, createProduct, readModel } from './lib.mjs';

const TAG = /^"[0-9a-f]{16}"$/;

test('GET answers carry an ETag; If-None-Match with it is 304 until the answer changes', async () => {
  const id = await createProduct({ stock: 5 });
  await readModel(`/api/products/${id}`);
  const first = await query('GET', `/api/products/${id}`);
  assert.equal(first.status, 200);
  const tag = first.headers.get('etag');
  assert.match(tag, TAG);
  assert.equal((await query('GET', `/api/products/${id}`)).headers.get('etag'), tag, 'the same answer, the same tag');

  const same = await query('GET', `/api/products/${id}`, undefined, { 'If-None-Match': tag });
  assert.equal(same.status, 304);
  assert.equal(same.text, '', 'a 304 has no body');
  assert.equal(same.headers.get('etag'), tag);
  const listed = await query('GET', `/api/products/${id}`, undefined, { 'If-None-Match': `"0000000000000000", W/${tag}` });
  assert.equal(listed.status, 304, 'a list with the weak form of the tag matches too');
  assert.equal((await query('GET', `/api/products/${id}`, undefined, { 'If-None-Match': '*' })).status, 304);
  assert.equal((await query('GET', `/api/products/${id}`, undefined, { 'If-None-Match': '"0000000000000000"' })).status, 200);

  // the answer changes: a new tag, and the old one no longer matches
  const adj = await command('POST', '/api/inventory', { productId: id, delta: 3 });
  assert.equal(adj.status, 201, adj.text);
  const after = await query('GET', `/api/products/${id}`, undefined,
    { 'If-None-Match': tag, 'X-Consistency-Token': adj.headers.get('x-consistency-token') });
  assert.equal(after.status, 200, 'changed: the full answer');
  assert.equal(after.json.stock, 8);
  assert.match(after.headers.get('etag'), TAG);
  assert.notEqual(after.headers.get('etag'), tag);
});

test('pages and lists are validated the same way; commands and streams carry no ETag', async () => {
  for (const path of ['/', '/api/todos', '/mood/mood.css']) {
    const r = await query('GET', path);
    assert.equal(r.status, 200, path);
    const tag = r.headers.get('etag');
    assert.match(tag, TAG, path);
    assert.equal((await query('GET', path, undefined, { 'If-None-Match': tag })).status, 304, path);
  }
  const c = await command('POST', '/api/todos', { title: 'no etag' });
  assert.equal(c.status, 201);
  assert.equal(c.headers.get('etag'), null, 'a command answer has no ETag');
  const ctl = new AbortController();
  const res = await fetch(`${process.env.QUERY_URL ?? 'http://127.0.0.1:8081'}/api/moods/stream`, { signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('etag'), null, 'a stream has no ETag');
  ctl.abort();
});

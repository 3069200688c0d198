// The todo demo seed: its README's commands, verbatim but for host and port.
//   curl -X POST localhost:5001/todos -H 'Content-Type: application/json' -d '{"title": "Learn CQRS"}'
//   curl localhost:5002/todos
import test from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_URL, QUERY_URL, post, put, del, get, getWhen } from './lib.mjs';

test('POST /todos on the command side: 201 {"message": "Todo created successfully.", "id": n}', async () => {
  const r = await post(`${COMMAND_URL}/todos`, { title: 'Learn CQRS' });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['id', 'message']);
  assert.equal(r.json.message, 'Todo created successfully.');
  assert.ok(Number.isInteger(r.json.id) && r.json.id > 0);
  assert.match(r.headers.get('content-type'), /^application\/json/);

  // GET /todos on the query side lists it as [{"id", "title", "completed": false}]
  const todos = await getWhen(`${QUERY_URL}/todos`, (l) => l.some((t) => t.id === r.json.id));
  assert.ok(Array.isArray(todos));
  assert.deepEqual(todos.find((t) => t.id === r.json.id), { id: r.json.id, title: 'Learn CQRS', completed: false });
  for (const t of todos) assert.deepEqual(Object.keys(t), ['id', 'title', 'completed']);
  // the same list as the project's own route
  assert.deepEqual((await get(`${QUERY_URL}/api/todos`)).json, (await get(`${QUERY_URL}/todos`)).json);
});

test('PUT /todos/{id} completes a todo and DELETE /todos/{id} removes it', async () => {
  const { json: { id } } = await post(`${COMMAND_URL}/todos`, { title: 'Ship it' });
  const done = await put(`${COMMAND_URL}/todos/${id}`, { completed: true });
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.json, { id, title: 'Ship it', completed: true });
  await getWhen(`${QUERY_URL}/todos`, (l) => l.some((t) => t.id === id && t.completed === true));

  const gone = await del(`${COMMAND_URL}/todos/${id}`);
  assert.equal(gone.status, 200, gone.text);
  assert.deepEqual(gone.json, { message: 'Todo deleted successfully.', id });
  await getWhen(`${QUERY_URL}/todos`, (l) => !l.some((t) => t.id === id));
  const again = await del(`${COMMAND_URL}/todos/${id}`);
  assert.equal(again.status, 404, again.text);
  assert.equal(again.json.error.code, 'not_found');
});

test('a todo without a title is refused with the project\'s error envelope', async () => {
  const r = await post(`${COMMAND_URL}/todos`, { name: 'Learn CQRS' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, 'validation_error');
  assert.equal(r.json.error.field, 'name');
  const empty = await post(`${COMMAND_URL}/todos`, { title: '' });
  assert.equal(empty.status, 400, empty.text);
  assert.equal(empty.json.error.field, 'title');
});

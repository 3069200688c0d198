// The mood board in a real browser (Debian's chromium, driven by playwright-core): the wall
// (query API /mood) follows the clicks on the sender page (command API /mood) live, through
// server-sent events, without reloading. Saves a screenshot of the wall to
// test-artifacts/mood-wall.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_URL, QUERY_URL, WAIT_MS, artifact, useBrowser } from './lib.mjs';

const browser = useBrowser();

// The wall's three figures, as numbers (NaN until the first event arrived).
async function figures(wall) {
  return wall.evaluate(() => Object.fromEntries(['happy', 'sad', 'score']
    .map((id) => [id, Number.parseInt(document.getElementById(id).dataset.value, 10)])));
}

test('clicks on the sender page show up live on the wall', async () => {
  const context = await browser().newContext({ viewport: { width: 1100, height: 700 } });
  const errors = [];
  try {
    const wall = await context.newPage();
    const sender = await context.newPage();
    for (const page of [wall, sender]) {
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    }

    let reloads = 0;
    wall.on('framenavigated', (f) => f === wall.mainFrame() && (reloads += 1));
    assert.equal((await wall.goto(`${QUERY_URL}/mood`)).status(), 200);
    // the first event carries the current figures (the database may already hold moods)
    await wall.waitForFunction(() => document.body.dataset.state === 'live'
      && document.getElementById('score').dataset.value !== '', null, { timeout: WAIT_MS });
    const start = await figures(wall);
    assert.equal(start.score, start.happy - start.sad);

    assert.equal((await sender.goto(`${COMMAND_URL}/mood`)).status(), 200);
    const pictures = await sender.locator('.face img').evaluateAll((imgs) => imgs.map((i) => ({
      src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0,
    })));
    assert.deepEqual(pictures, [
      { src: '/mood/happy.svg', loaded: true }, { src: '/mood/sad.svg', loaded: true }]);

    // happy twice, sad once; each click waits for its confirmation
    const clicks = ['#send-good', '#send-good', '#send-bad'];
    for (const [i, selector] of clicks.entries()) {
      await sender.click(selector);
      await sender.waitForFunction((n) => document.getElementById('status').dataset.sent === String(n),
        i + 1, { timeout: WAIT_MS });
    }
    assert.match(await sender.textContent('#status'), /Recorded a bad mood/);

    const t0 = Date.now();
    const want = { happy: start.happy + 2, sad: start.sad + 1, score: start.score + 1 };
    await wall.waitForFunction((w) => ['happy', 'sad', 'score']
      .every((id) => document.getElementById(id).dataset.value === String(w[id])), want, { timeout: WAIT_MS });
    console.log(`wall caught up ${Date.now() - t0} ms after the last confirmation`);
    assert.deepEqual(await figures(wall), want);
    assert.equal(await wall.textContent('#score'), want.score > 0 ? `+${want.score}` : String(want.score));
    assert.equal(reloads, 1, 'the wall was never reloaded');

    await wall.screenshot({ path: artifact('mood-wall.png') });
    assert.deepEqual(errors, [], 'no script errors on either page');
  } finally {
    await context.close();
  }
});

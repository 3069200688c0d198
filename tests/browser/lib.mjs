// What the browser tests share: the services' URLs, the time-out of every wait, one chromium
// (Debian's, driven by playwright-core) per test file, and the folder screenshots go to.
import { before, after } from 'node:test';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const COMMAND_URL = process.env.COMMAND_URL ?? 'http://127.0.0.1:8080';
export const QUERY_URL = process.env.QUERY_URL ?? 'http://127.0.0.1:8081';
export const TOKEN = process.env.COMMAND_API_TOKEN ?? '';
export const WAIT_MS = 10000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

// Launches chromium before the file's tests and closes it after them; returns a getter for it.
export function useBrowser() {
  let browser;
  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await browser?.close();
  });
  return () => browser;
}

// The path of a file in test-artifacts/, the folder made if need be.
export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return `${ARTIFACTS}${name}`;
}

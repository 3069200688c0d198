// The sender page: each face POSTs {"type": "good" | "bad"} to the command API's /api/moods
// (same origin) and shows a short confirmation. #status's data-sent counts the recorded moods.
'use strict';

const status = document.getElementById('status');
let sent = 0;
let hideTimer;

function show(text, kind) {
  status.textContent = text;
  status.className = `status ${kind}`;
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => {
    status.textContent = 'Tap a face.';
    status.className = 'status';
  }, 4000);
}

async function record(type) {
  try {
    const res = await fetch('/api/moods', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status !== 202) {
      const why = body.error ? body.error.message : `HTTP ${res.status}`;
      show(`Not recorded: ${why}`, 'error');
      return;
    }
    sent += 1;
    status.dataset.sent = String(sent);
    show(type === 'good' ? 'Thanks! Recorded a good mood.' : 'Thanks. Recorded a bad mood.', 'ok');
  } catch (e) {
    show('Not recorded: the server cannot be reached.', 'error');
  }
}

for (const button of document.querySelectorAll('.face')) {
  button.addEventListener('click', () => record(button.dataset.type));
}

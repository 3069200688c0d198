// The wall: shows happy, sad and score, kept up to date by the query API's server-sent events
// (/api/moods/stream, same origin): the first event is the current figures, then one per change.
// Each figure's data-value holds the plain number; body[data-state] is connecting, live or
// reconnecting.
'use strict';

const live = document.getElementById('live');

function setFigure(id, value, signed) {
  const el = document.getElementById(id);
  const text = signed && value > 0 ? `+${value}` : String(value);
  if (el.dataset.value === String(value)) return;
  el.dataset.value = String(value);
  el.textContent = text;
  if (signed) {
    el.classList.toggle('up', value > 0);
    el.classList.toggle('down', value < 0);
  }
  el.classList.remove('bump');
  void el.offsetWidth; // restart the animation
  el.classList.add('bump');
}

function setState(state, text) {
  document.body.dataset.state = state;
  live.textContent = text;
}

function connect() {
  const source = new EventSource('/api/moods/stream');
  source.onopen = () => setState('live', 'live');
  source.onmessage = (e) => {
    let stats;
    try {
      stats = JSON.parse(e.data);
    } catch {
      return;
    }
    setFigure('happy', stats.happy, false);
    setFigure('sad', stats.sad, false);
    setFigure('score', stats.score, true);
    setState('live', `live, updated ${new Date().toLocaleTimeString()}`);
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // refused (e.g. 503 while the server restarts): EventSource gives up, so start over
      setState('reconnecting', 'reconnecting…');
      setTimeout(connect, 3000);
    } else {
      setState('reconnecting', 'reconnecting…');
    }
  };
}

connect();

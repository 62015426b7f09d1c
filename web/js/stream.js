// Live updates from GET /api/v1/stream (Server-Sent Events). EventSource
// cannot send an Authorization header, so the stream is read with fetch()
// and parsed here. Pages subscribe with on(type, fn) and get the parsed JSON
// of each event; the connection comes back after a drop, with backoff.
import { headers } from './api.js';

const listeners = new Map();
let ctrl = null;
let retry = 1000;
export const status = { connected: false, unsupported: false, events: 0 };

export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  return () => listeners.get(type).delete(fn);
}

function emit(type, data) {
  status.events++;
  for (const fn of listeners.get(type) || []) {
    try { fn(data); } catch (e) { console.warn('stream listener', e); }
  }
  for (const fn of listeners.get('*') || []) {
    try { fn(type, data); } catch (e) { console.warn('stream listener', e); }
  }
}

export function stop() {
  if (ctrl) ctrl.abort();
  ctrl = null;
  status.connected = false;
}

export async function start() {
  stop();
  const mine = new AbortController();
  ctrl = mine;
  try {
    const r = await fetch('/api/v1/stream', { headers: headers({ Accept: 'text/event-stream' }), signal: mine.signal, credentials: 'omit', cache: 'no-store' });
    if (r.status === 404 || r.status === 401 || r.status === 403) {
      status.unsupported = true;
      return; // no stream on this server, or not for this token: pages poll instead
    }
    if (!r.ok || !r.body) throw new Error('stream: HTTP ' + r.status);
    status.connected = true;
    retry = 1000;
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let type = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // heartbeat comment
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (!data.length) continue;
        let parsed = data.join('\n');
        try { parsed = JSON.parse(parsed); } catch (e) { /* keep the text */ }
        emit(type, parsed);
      }
    }
  } catch (e) {
    if (mine.signal.aborted) return;
  }
  status.connected = false;
  if (ctrl !== mine) return;
  setTimeout(() => { if (ctrl === mine) start(); }, retry);
  retry = Math.min(retry * 2, 30000);
}

// Automation (#/automation): the global switch (paused or active, why, by
// whom) with pause and resume for admins (a reason is required to pause),
// the remediation policies with their guardrail state (cooldown, runs per
// window, whether the circuit breaker is open) and the recent runs with
// their incidents. Data from /api/v1/automation, /api/v1/policies and
// /api/v1/runs; the server checks roles again on every call. Live: a run
// event on the stream (a run created, approved, acting, over) reads the
// three again, at most once a second, and redraws what changed; the pause
// form is kept while it holds text.
import { api, tryApi, can } from '../api.js';
import { h, put, section, table, badge, field, toast, ago } from '../dom.js';
import { runsTable } from '../runs.js';
import * as stream from '../stream.js';

export const title = () => 'Automation';

export async function render(main) {
  const box = { sw: h('div', { id: 'automation-switch-box' }), pols: h('div', { id: 'automation-policies' }),
    runs: h('div', { id: 'automation-runs', 'aria-live': 'polite' }) };
  let shown = '';
  async function draw(first) {
    const [state, pols, runs] = await Promise.all([
      tryApi('/api/v1/automation'), tryApi('/api/v1/policies'), tryApi('/api/v1/runs', { query: { limit: 30 } })]);
    if (first) {
      put(main, h('h1', { tabindex: '-1' }, 'Automation'),
        state.status === 404 ? h('p', { class: 'muted not-available' }, 'The remediation engine is not available on this server.') : [
          section('Switch', box.sw), section('Policies', box.pols),
          section('Recent runs', h('p', { class: 'muted live' }, 'updates live'), box.runs)]);
      if (state.status === 404) return false;
    }
    const key = JSON.stringify([state, pols, runs]);
    if (key === shown) return true;
    shown = key;
    const typing = [...box.sw.querySelectorAll('input')].some(i => i.value);
    if (!typing) put(box.sw, switchView(state, () => draw(false)));
    put(box.pols, pols.error ? h('p', { class: 'error' }, pols.error) : policiesTable(pols.policies || [], runs.runs || []));
    put(box.runs, runs.error ? h('p', { class: 'error' }, runs.error) : runsTable(runs.runs || []));
    return true;
  }
  if (!await draw(true)) return undefined;
  let timer = null;
  const off = stream.on('run', () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; draw(false).catch(() => {}); }, 1000);
  });
  return () => { off(); if (timer) clearTimeout(timer); };
}

function switchView(s, again) {
  if (s.error) return h('p', { class: 'error' }, s.error);
  const info = h('p', { id: 'automation-switch' }, s.paused ? badge('paused', 'warn') : badge('active', 'ok'),
    ` · ${s.active_runs ?? 0} run${s.active_runs === 1 ? '' : 's'} in progress · ${s.held_triggers ?? 0} trigger${s.held_triggers === 1 ? '' : 's'} held`,
    s.paused ? [h('br'), `Paused by ${s.by || '?'} ${s.at ? ago(s.at) : ''}: `, h('span', { class: 'pause-reason' }, s.reason || '')] : null);
  if (!can('admin')) return info;
  const reason = h('input', { name: 'reason', autocomplete: 'off' });
  const msg = h('p', { class: 'error', role: 'alert' });
  const send = async paused => {
    msg.textContent = '';
    if (paused && !reason.value.trim()) { msg.textContent = 'Say why: a reason is required to pause.'; reason.focus(); return; }
    try {
      await api('/api/v1/automation', { method: 'POST', body: paused ? { paused, reason: reason.value.trim() } : { paused } });
      toast(paused ? 'Automation paused.' : 'Automation resumed.');
      reason.value = '';
      await again();
    } catch (e) { msg.textContent = e.message; }
  };
  return h('div', {}, info,
    s.paused ? h('button', { type: 'button', class: 'ok', onclick: () => send(false) }, 'Resume automation')
      : h('div', { class: 'row' }, field('Reason (recorded in the audit log)', reason),
        h('button', { type: 'button', class: 'danger', onclick: () => send(true) }, 'Pause automation')),
    msg);
}

// "10m", "1h30m", "45s" → milliseconds (the guardrail durations the API writes).
function durMs(d) {
  let ms = 0;
  for (const [, n, u] of String(d || '').matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(n) * { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[u];
  return ms;
}

// Until when the policy's cooldown refuses a trigger: its newest run that acted, plus the cooldown.
function cooldownUntil(p, runs) {
  const last = runs.filter(r => r.policy === p.name && r.acted).map(r => Date.parse(r.created)).filter(Boolean).sort((a, b) => b - a)[0];
  const until = last ? last + durMs((p.guardrails || {}).cooldown) : 0;
  return until > Date.now() ? until : 0;
}

function policiesTable(list, runs) {
  return table('Policies', ['Policy', 'What it does', 'Mode', 'Author', 'Cooldown', 'Runs per window', 'Circuit breaker', 'When'],
    list.map(p => {
      const g = p.guardrails || {};
      const doc = p.doc || {};
      return [h('span', { class: 'policy-name' }, `${p.name || ''}@v${p.version ?? ''}`), doc.description || '', badge(p.mode || ''), p.author || '',
        [g.cooldown || '–', cooldownUntil(p, runs) ? h('span', { class: 'cooldown' }, ` · cooling down until ${new Date(cooldownUntil(p, runs)).toISOString().slice(11, 19)} UTC`) : ''],
        `${g.max_runs ?? '–'} per ${g.window || '–'}`,
        p.breaker_open ? badge(`open (${g.breaker} failed in a row)`, 'bad') : badge('closed', 'ok'),
        h('code', {}, doc.when ? JSON.stringify(doc.when) : '')];
    }), 'No policy: add one under policies: in ooda.yaml or with ooda policy apply.');
}

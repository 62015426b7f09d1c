// Audit: the records newest first, filtered by actor, action prefix and
// target (a deep link: #/audit?actor=…), and the hash chain's verification.
import { tryApi } from '../api.js';
import { h, put, section, table, badge, field } from '../dom.js';

export const title = () => 'Audit';

export async function render(main, ctx) {
  const f = k => ctx.query.get(k) || '';
  const actor = h('input', { name: 'actor', value: f('actor') });
  const action = h('input', { name: 'action', value: f('action'), placeholder: 'flag.*' });
  const target = h('input', { name: 'target', value: f('target') });
  const form = h('form', { class: 'query', role: 'search', 'aria-label': 'Audit filter' },
    field('Actor', actor), field('Action', action), field('Target', target), h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', ev => { ev.preventDefault(); ctx.go('#/audit', { actor: actor.value.trim(), action: action.value.trim(), target: target.value.trim() }); });
  const status = h('div', { 'aria-live': 'polite' }, 'Verifying…');
  const list = h('div');
  put(main, h('h1', { tabindex: '-1' }, 'Audit'), section('Chain', status), form, section('Records', list));
  const [recs, ver] = await Promise.all([
    tryApi('/api/v1/audit', { query: { actor: f('actor'), action: f('action'), target: f('target'), limit: 200, cursor: f('cursor') } }),
    tryApi('/api/v1/audit/verify', { method: 'POST', body: {} }),
  ]);
  put(status, ver.error ? h('p', { class: 'error' }, ver.error) : h('p', {},
    badge(ver.ok ? 'verified' : 'BROKEN', ver.ok ? 'ok' : 'bad'), ' ',
    ver.ok ? `${ver.records} records chain up to #${ver.head && ver.head.seq}; ${ver.checkpoints_verified} signed checkpoint(s) verified.`
      : `first broken record: ${ver.first_broken || ver.broken_seq || ''} ${ver.reason || ver.detail || ''}`));
  put(list, recs.error ? h('p', { class: 'error', role: 'alert' }, recs.error) : [
    table('Audit records', ['#', 'Time', 'Actor', 'Action', 'Target', 'Rationale'],
      recs.records.map(r => [String(r.seq), r.time.replace('T', ' ').replace('Z', ''), r.actor, h('code', {}, r.action), r.target, r.rationale || '']),
      'No record matches.'),
    recs.next_cursor ? h('p', {}, h('a', { href: ctx.link('#/audit', { actor: f('actor'), action: f('action'), target: f('target'), cursor: recs.next_cursor }) }, 'Older records')) : null]);
}

// Changes: feature flags (edit with a diff preview and a rationale, history,
// rollback, kill switch), config sets, deploys, progressive rollouts (list
// and #/rollouts/ID: plan steps with weights and holds, the current step,
// each step's verdict with its numbers, promote and abort) and the
// approvals waiting.
// A flag version is a deep link: #/flags/ENV/KEY@VERSION. Buttons a role
// cannot use are not drawn; the server checks the role on every call anyway.
import { api, tryApi, can } from '../api.js';
import { h, put, section, table, badge, ago, askRationale, toast, field } from '../dom.js';
import { changesTable } from './overview.js';

export function title(ctx) {
  if (ctx.path.startsWith('/flags/')) return 'Flag ' + ctx.params[1];
  if (ctx.path.startsWith('/configs/')) return `Config ${ctx.params[0]}/${ctx.params[1]}`;
  if (ctx.path.startsWith('/rollouts/')) return 'Rollout ' + ctx.params[0];
  return 'Changes';
}

function tabs(cur) {
  return h('nav', { class: 'tabs', 'aria-label': 'Changes' },
    [['flags', 'Flags'], ['configs', 'Config sets'], ['deploys', 'Deploys'], ['rollouts', 'Rollouts'], ['approvals', 'Approvals']].map(([k, label]) =>
      h('a', { href: '#/changes/' + k, 'aria-current': k === cur ? 'page' : null }, label)));
}

export async function render(main, ctx) {
  if (ctx.path.startsWith('/flags/')) return flagPage(main, ctx);
  if (ctx.path.startsWith('/configs/')) return configPage(main, ctx);
  if (ctx.path.startsWith('/rollouts/')) return rolloutPage(main, ctx);
  const tab = ctx.params[0] || 'flags';
  const body = h('div');
  put(main, h('h1', { tabindex: '-1' }, 'Changes'), tabs(tab), body);
  if (tab === 'configs') return configs(body);
  if (tab === 'deploys') return deploys(body);
  if (tab === 'rollouts') return rollouts(body);
  if (tab === 'approvals') return approvals(body, () => render(main, ctx));
  return flags(body, ctx);
}

async function flags(body, ctx) {
  const env = ctx.query.get('env') || 'default';
  const envIn = h('input', { name: 'env', value: env });
  const form = h('form', { class: 'query', 'aria-label': 'Environment' }, field('Environment', envIn), h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', ev => { ev.preventDefault(); ctx.go('#/changes/flags', { env: envIn.value.trim() }); });
  const r = await tryApi('/api/v1/flags', { query: { env } });
  const kill = can('responder') ? h('button', { type: 'button', class: 'danger', onclick: () => killService(env) }, 'Kill switch for a service…') : null;
  put(body, form, section(`Flags in ${env}`,
    table(`Flags in ${env}`, ['Flag', 'Version', 'State', 'Default', 'Targeting', 'Changed', 'By', 'Why'],
      (r.flags || []).map(f => [h('a', { href: `#/flags/${encodeURIComponent(env)}/${encodeURIComponent(f.key)}` }, f.key), 'v' + f.version,
        badge(f.state, f.state === 'ENABLED' ? 'ok' : 'warn'), f.defaultVariant || '', f.targeting ? 'yes' : 'no', ago(f.updated), f.author || '', f.rationale || '']),
      r.error || 'No flag in this environment.'), kill));
}

async function killService(env) {
  const svc = h('input', { name: 'service', required: true });
  const why = await askRationale(`Disable every flag of a service changed in the last hour (${env})`, 'Disable flags', field('Service', svc));
  if (why === null) return;
  try {
    const r = await api('/api/v1/flags/kill', { method: 'POST', query: { env }, body: { service: svc.value.trim(), rationale: why } });
    toast(`Disabled ${(r.killed || r.flags || []).length} flag(s).`);
  } catch (e) { toast(e.message, true); }
}

// A line diff (longest common subsequence): [{op: ' '|'-'|'+', line}].
export function lineDiff(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  const n = x.length, m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: ' ', line: x[i] }); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: '-', line: x[i++] });
    else out.push({ op: '+', line: y[j++] });
  }
  while (i < n) out.push({ op: '-', line: x[i++] });
  while (j < m) out.push({ op: '+', line: y[j++] });
  return out;
}

function diffView(d) {
  if (!d.some(x => x.op !== ' ')) return h('p', { class: 'muted' }, 'No change.');
  return h('pre', { class: 'diff', 'aria-label': 'Changes' }, d.map(x =>
    h('span', { class: x.op === '+' ? 'add' : x.op === '-' ? 'del' : 'same' }, (x.op === ' ' ? '  ' : x.op + ' ') + x.line + '\n')));
}

async function flagPage(main, ctx) {
  const [env, key, at] = ctx.params;
  const base = `/api/v1/flags/${encodeURIComponent(key)}`;
  const [cur, hist] = await Promise.all([
    tryApi(base, { query: { env } }),
    tryApi(base + '/history', { query: { env } }),
  ]);
  if (cur.error) {
    put(main, h('h1', { tabindex: '-1' }, 'Flag ', key), h('p', { class: 'error', role: 'alert' }, cur.error));
    return;
  }
  const versions = (hist.versions || []).slice().sort((a, b) => b.version - a.version);
  const shown = at ? versions.find(v => v.version === Number(at)) : null;
  const pretty = o => JSON.stringify(o, null, 2);
  const current = pretty(cur.definition);
  const refresh = () => ctx.go(`#/flags/${encodeURIComponent(env)}/${encodeURIComponent(key)}`);
  const parts = [
    h('h1', { tabindex: '-1' }, 'Flag ', h('code', {}, key), ' ', h('span', { class: 'muted' }, 'in ', env)),
    h('p', {}, h('a', { href: '#/changes/flags?env=' + encodeURIComponent(env) }, '← all flags in ' + env), ' · ',
      `current: v${cur.version}, ${cur.definition.state || ''}, by ${cur.author} ${ago(cur.updated)}`),
  ];
  if (shown && shown.version !== cur.version) {
    parts.push(section(`Version ${shown.version} (compared with v${cur.version})`,
      h('p', {}, `by ${shown.author} ${ago(shown.time)}: `, shown.rationale || ''),
      diffView(lineDiff(current, pretty(shown.body || {}))),
      can('responder') ? h('button', { type: 'button', onclick: () => rollbackTo(base, env, shown.version, refresh) }, `Roll back to v${shown.version}`) : null));
  }
  const desc = cur.definition.metadata && cur.definition.metadata.description;
  parts.push(section('Definition', desc ? h('p', { class: 'desc' }, desc) : null, h('pre', { class: 'code' }, current),
    can('responder') ? h('div', { class: 'row' },
      h('button', { type: 'button', class: 'danger', onclick: () => killFlag(base, env, key, refresh) }, 'Kill switch: disable now')) : null));
  if (can('responder')) parts.push(section('Edit', editor(base, env, cur, current, refresh)));
  parts.push(section('History', table('History', ['Version', 'When', 'By', 'Rationale', ''],
    versions.map(v => [h('a', { href: `#/flags/${encodeURIComponent(env)}/${encodeURIComponent(key)}@${v.version}`, class: 'version' }, 'v' + v.version + (v.deleted ? ' (deleted)' : '')),
      ago(v.time), v.author || '', v.rationale || '',
      can('responder') && v.version !== cur.version ? h('button', { type: 'button', class: 'small', onclick: () => rollbackTo(base, env, v.version, refresh) }, 'Roll back to this') : '']),
    hist.error || 'No history.')));
  put(main, ...parts);
}

function editor(base, env, cur, current, refresh) {
  const ta = h('textarea', { name: 'definition', rows: '12', spellcheck: 'false', class: 'code' });
  ta.value = current;
  const preview = h('div', { 'aria-live': 'polite' });
  const why = h('input', { name: 'rationale', required: true });
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { 'aria-label': 'Edit flag' },
    field('Definition (flagd JSON)', ta),
    h('button', { type: 'button', class: 'ghost', onclick: showDiff }, 'Preview diff'),
    preview,
    field('Rationale (recorded in the audit log)', why),
    h('button', { type: 'submit' }, `Save as v${cur.version + 1}`), msg);
  function showDiff() {
    try {
      put(preview, diffView(lineDiff(current, JSON.stringify(JSON.parse(ta.value), null, 2))));
      return true;
    } catch (e) {
      put(preview, h('p', { class: 'error' }, 'Not valid JSON: ' + e.message));
      return false;
    }
  }
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    msg.textContent = '';
    if (!showDiff()) return;
    if (!why.value.trim()) { msg.textContent = 'Say why: the rationale is required.'; why.focus(); return; }
    try {
      const r = await api(base, { method: 'PUT', query: { env }, headers: { 'If-Match': `"v${cur.version}"` }, body: { definition: JSON.parse(ta.value), rationale: why.value.trim() } });
      toast(r && r.approval_id ? 'An approval was requested for this change.' : `Saved v${r && r.version ? r.version : cur.version + 1}.`);
      refresh();
    } catch (e) { msg.textContent = e.message; }
  });
  return form;
}

async function rollbackTo(base, env, version, refresh) {
  const why = await askRationale(`Make v${version} current again`, 'Roll back');
  if (why === null) return;
  try {
    await api(base + '/rollback', { method: 'POST', query: { env }, body: { to: version, rationale: why } });
    toast(`Rolled back to v${version}.`);
    refresh();
  } catch (e) { toast(e.message, true); }
}

async function killFlag(base, env, key, refresh) {
  const why = await askRationale(`Disable ${key} in ${env} now`, 'Disable');
  if (why === null) return;
  try {
    await api(base + '/kill', { method: 'POST', query: { env }, body: { rationale: why } });
    toast(`${key} disabled.`);
    refresh();
  } catch (e) { toast(e.message, true); }
}

async function configs(body) {
  const r = await tryApi('/api/v1/configs');
  put(body, section('Config sets', table('Config sets', ['Service', 'Env', 'Version', 'Changed', 'By'],
    (r.configs || []).map(c => [h('a', { href: `#/configs/${encodeURIComponent(c.service)}/${encodeURIComponent(c.env)}` }, c.service), c.env, 'v' + c.version, ago(c.updated), c.author || '']),
    r.error || 'No config set stored.')));
}

async function deploys(body) {
  const [r, ev] = await Promise.all([tryApi('/api/v1/deploys', { query: { limit: 50 } }), tryApi('/api/v1/events', { query: { limit: 30 } })]);
  put(body,
    section('Deploys', table('Deploys', ['When', 'Service', 'Env', 'Version', 'Artifact', 'By'],
      (r.deploys || []).map(d => [ago(d.time), h('a', { href: '#/service/' + encodeURIComponent(d.service) }, d.service), d.environment, d.version, d.artifact || '', d.actor || '']),
      r.error || 'No deploy recorded.')),
    section('Change events', changesTable(ev.events || [], ev.error)));
}

async function approvals(body, refresh) {
  const r = await tryApi('/api/v1/approvals');
  const act = async (a, verb) => {
    const why = await askRationale(`${verb === 'approve' ? 'Approve' : 'Reject'} ${a.action || a.kind || 'request'} ${a.id}`, verb === 'approve' ? 'Approve' : 'Reject');
    if (why === null) return;
    try {
      await api(`/api/v1/approvals/${encodeURIComponent(a.id)}/${verb}`, { method: 'POST', body: { rationale: why } });
      toast(`Request ${a.id} ${verb === 'approve' ? 'approved' : 'rejected'}.`);
      refresh();
    } catch (e) { toast(e.message, true); }
  };
  put(body, section('Approvals waiting', table('Approvals waiting', ['Requested', 'Action', 'Target', 'By', 'Why', ''],
    (r.approvals || []).map(a => [ago(a.created || a.time), a.action || a.kind || '', a.target || a.env || '', a.requester || a.actor || '', a.rationale || '',
      can('approver') ? h('div', { class: 'row' },
        h('button', { type: 'button', class: 'small', onclick: () => act(a, 'approve') }, 'Approve'),
        h('button', { type: 'button', class: 'small ghost', onclick: () => act(a, 'reject') }, 'Reject')) : '']),
    r.error || 'Nothing is waiting for approval.')));
}

// One config set: the current body, its history, a version's diff against the
// one before it (#/configs/SERVICE/ENV@N), and rollback for responders.
async function configPage(main, ctx) {
  const [service, env, at] = ctx.params;
  const base = `/api/v1/configs/${encodeURIComponent(service)}/${encodeURIComponent(env)}`;
  const [cur, hist] = await Promise.all([tryApi(base, { query: { format: 'json' } }), tryApi(base + '/history')]);
  const versions = (hist.versions || []).slice().sort((a, b) => b.version - a.version);
  const latest = versions.length ? versions[0].version : 0;
  const self = `#/configs/${encodeURIComponent(service)}/${encodeURIComponent(env)}`;
  const parts = [h('h1', { tabindex: '-1' }, 'Config ', h('code', {}, `${service}/${env}`)),
    h('p', {}, h('a', { href: '#/changes/configs' }, '← all config sets'), latest ? ` · current: v${latest}` : '')];
  if (at && Number(at) > 1) {
    const d = await tryApi(base + '/diff', { query: { from: Number(at) - 1, to: at } });
    const v = versions.find(x => x.version === Number(at));
    parts.push(section(`Version ${at} (against v${Number(at) - 1})`,
      v ? h('p', {}, `by ${v.author} ${ago(v.time)}: `, v.rationale || '') : null,
      d.error ? h('p', { class: 'error' }, d.error) : diffView((d.diff || '').replace(/\n$/, '').split('\n').map(l => ({ op: l[0] === '+' || l[0] === '-' ? l[0] : ' ', line: l.slice(2) })))));
  }
  parts.push(section('Current', cur.error ? h('p', { class: 'error' }, cur.error) : h('pre', { class: 'code' }, JSON.stringify(cur, null, 2))));
  parts.push(section('History', table('History', ['Version', 'When', 'By', 'Rationale', ''],
    versions.map(v => [h('a', { href: `${self}@${v.version}`, class: 'version' }, 'v' + v.version), ago(v.time), v.author || '', v.rationale || '',
      can('responder') && v.version !== latest ? h('button', { type: 'button', class: 'small', onclick: () => rollbackConfig(base, v.version, () => ctx.go(self)) }, 'Roll back to this') : '']),
    hist.error || 'No history.')));
  put(main, ...parts);
}

async function rollbackConfig(base, version, refresh) {
  const why = await askRationale(`Make config v${version} current again`, 'Roll back');
  if (why === null) return;
  try {
    await api(base + '/rollback', { method: 'POST', body: { to: version, rationale: why } });
    toast(`Rolled back to v${version}.`);
    refresh();
  } catch (e) { toast(e.message, true); }
}

// ---- rollouts ---------------------------------------------------------------
const RO_BADGE = { succeeded: 'ok', aborted: 'bad', 'awaiting-approval': 'warn', running: '' };

function roTarget(r) {
  return r.flag ? `flag ${r.flag} → ${r.variant || '?'}` : r.deploy ? `deploy ${r.deploy}` : (r.service || '');
}

async function rollouts(body) {
  const r = await tryApi('/api/v1/rollouts', { query: { limit: 50 } });
  if (r.status === 404) { put(body, h('p', { class: 'muted not-available' }, 'Rollouts are not available on this server.')); return; }
  put(body, section('Rollouts', table('Rollouts', ['Rollout', 'Status', 'What', 'Env', 'Step', 'Started', 'By', 'Why'],
    (r.rollouts || []).map(x => [h('a', { href: '#/rollouts/' + encodeURIComponent(x.id) }, x.id), badge(x.status || '', RO_BADGE[x.status] || ''),
      roTarget(x), x.env || '', `${(x.step ?? 0) + 1} of ${(x.steps || []).length}`, ago(x.started), x.actor || '', x.rationale || '']),
    r.error || 'No rollout yet: start one with ooda rollout start.')));
}

function verdictNumbers(v) {
  return Object.entries(v || {}).filter(([k]) => !['verdict', 'step', 'reason'].includes(k))
    .map(([k, val]) => `${k} ${typeof val === 'number' ? (Number.isInteger(val) ? val : val.toPrecision(3)) : typeof val === 'string' ? val : JSON.stringify(val)}`).join(', ');
}

async function rolloutPage(main, ctx) {
  const id = ctx.params[0];
  const r = await tryApi('/api/v1/rollouts/' + encodeURIComponent(id));
  const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/changes/rollouts' }, '← rollouts'));
  if (r.error) { put(main, crumbs, h('h1', { tabindex: '-1' }, 'Rollout ', id), h('p', { class: 'error', role: 'alert' }, r.error)); return; }
  const steps = r.steps || [];
  const verdicts = r.verdicts || [];
  const live = r.status === 'running' || r.status === 'awaiting-approval';
  const act = async (verb, label) => {
    const why = await askRationale(`${label} rollout ${r.id}`, label);
    if (why === null) return;
    try {
      await api(`/api/v1/rollouts/${encodeURIComponent(r.id)}/${verb}`, { method: 'POST', body: { rationale: why } });
      toast(`${r.id}: ${label.toLowerCase()}d.`);
    } catch (e) { toast(e.message, true); }
    await rolloutPage(main, ctx);
  };
  put(main, crumbs,
    h('h1', { tabindex: '-1' }, 'Rollout ', h('span', { class: 'ro-id' }, r.id), ' ', badge(r.status || '', RO_BADGE[r.status] || '')),
    h('p', {}, roTarget(r), r.env ? ` in ${r.env}` : '', r.service ? ` · analysed on ${r.service}` : '', r.version ? ` version ${r.version}` : '',
      ` · started ${ago(r.started)} by ${r.actor || '?'}`, r.rationale ? [': ', h('span', { class: 'ro-why' }, r.rationale)] : null),
    r.status === 'awaiting-approval' ? h('p', { class: 'warn-box', id: 'ro-approval' }, `Step ${(r.step ?? 0) + 1} waits for a second person's approval`,
      r.approval ? [' (', r.approval, ')'] : '', ': ', h('a', { href: '#/changes/approvals' }, 'approve it')) : null,
    r.abort_reason ? h('p', { class: 'error' }, 'Aborted: ', r.abort_reason) : null,
    live && can('responder') ? h('div', { class: 'row', id: 'ro-actions' },
      r.status === 'running' ? h('button', { type: 'button', onclick: () => act('promote', 'Promote') }, 'Promote') : null,
      h('button', { type: 'button', class: 'danger', onclick: () => act('abort', 'Abort') }, 'Abort')) : null,
    section('Plan', table('Plan steps', ['Step', 'Weight', 'Hold', 'Approval', 'State', 'Verdict'],
      steps.map((s, i) => {
        const v = verdicts.filter(x => x.step === i).pop();
        const cur = i === r.step;
        return [String(i + 1) + (cur ? ' (current)' : ''), s.weight !== undefined ? s.weight + ' %' : '–', s.hold || '–', s.approval ? 'yes' : 'no',
          i < (r.step ?? 0) || r.status === 'succeeded' ? 'done' : cur ? (r.status === 'aborted' ? 'aborted' : 'now') : 'to come',
          v ? [badge(v.verdict || '?', v.verdict === 'pass' ? 'ok' : v.verdict === 'fail' ? 'bad' : 'warn'), ' ', h('span', { class: 'muted' }, verdictNumbers(v))] : '–'];
      }), 'No step.')),
    section('History', (r.history || []).length ? h('ol', { class: 'plain' }, r.history.map(x => h('li', {},
      h('time', { datetime: x.time || '' }, x.time || ''), ' ', h('span', { class: 'actor' }, x.actor || ''), ' ', x.what || '', x.rationale ? [': ', x.rationale] : null)))
      : h('p', { class: 'muted' }, 'Nothing yet.')));
}

// One incident (#/incident/INC-7, #/incident/INC-7?kind=status): what it is
// (title, severity, status, commander) with the responder's actions, the
// triage summary, the ranked suspects with their evidence, the live
// timeline, hypotheses, annotations, artifacts, status updates, the
// remediation runs with their steps and approve/reject/cancel (runs.js), and
// the postmortem draft with its action items; and the incident's services
// now (health over the last HEALTH_WINDOW), so a responder watches them
// recover on this page. The summary, suspects and
// postmortem routes are newer than the incident API: where one answers 404
// the panel says it is not available and the rest of the page works.
//
// Live: the timeline is read every few seconds (and at once when the
// stream carries an incident event); a new entry redraws the header and the
// panels that add entries. The runs redraw on the stream's run events (a
// run of this incident moved: created, approved, a step started or ended,
// verified) and are polled only while the stream is down. The services'
// health is read every few seconds and on alert events. Everything from the server is text (dom.js,
// md.js); buttons a role cannot use are not drawn, and the server checks
// again on every call.
import { api, tryApi, can, headers, session } from '../api.js';
import { h, put, section, table, badge, field, toast, ago, fmtNum, fmtPct } from '../dom.js';
import { markdown } from '../md.js';
import * as stream from '../stream.js';
import { SEVERITIES, sevBadge, statusBadge, fmtTime } from './incidents.js';
import { runView, TERMINAL } from '../runs.js';

const POLL_MS = 4000;
const HEALTH_WINDOW = '10s';
const KINDS = ['opened', 'alert', 'detection', 'change', 'status', 'severity', 'handoff', 'annotation', 'hypothesis',
  'artifact', 'status_update', 'reopened', 'notification', 'summary', 'action'];
// status → [target status, button label]: the lifecycle arrows a person may take.
const ARROWS = {
  triggered: [['acknowledged', 'Acknowledge'], ['mitigated', 'Mitigate'], ['resolved', 'Resolve']],
  acknowledged: [['mitigated', 'Mitigate'], ['resolved', 'Resolve']],
  mitigated: [['resolved', 'Resolve']],
  resolved: [['reviewed', 'Mark reviewed']],
  reviewed: [],
};
const EVIDENCE = ['logs', 'trace', 'promql', 'artifact', 'link'];
const UPDATE_STATES = ['investigating', 'identified', 'monitoring', 'resolved'];

export const title = ctx => 'Incident ' + ctx.params[0];

function notAvailable(what) {
  return h('p', { class: 'muted not-available' }, `The ${what} is not available on this server.`);
}

function failed(r) {
  return h('p', { class: 'error' }, r.error);
}

function safeLink(url, text) {
  return /^https?:\/\//i.test(url || '') ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, text || url) : (text || url || '');
}

function when(iso) {
  return iso ? h('time', { datetime: iso, title: iso }, ago(iso)) : '–';
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  const base = '/api/v1/incidents/' + encodeURIComponent(id);
  const first = await tryApi(base);
  if (first.error) {
    put(main, h('h1', { tabindex: '-1' }, 'Incident ', id),
      h('p', { class: 'error', role: 'alert' }, first.status === 404 ? `There is no incident ${id}.` : first.error),
      h('p', {}, h('a', { href: '#/incidents' }, 'All open incidents')));
    return;
  }
  const st = { doc: first, entries: [], lastSeq: -1, kind: ctx.query.get('kind') || '', summary: null };
  const responder = can('responder');
  const box = name => h('div', { id: name, 'aria-live': 'polite' });
  const b = {
    head: h('div', { id: 'inc-head' }), actions: h('div', { id: 'inc-actions' }),
    summary: box('summary'), suspects: box('suspects'), timeline: box('timeline'),
    hypotheses: box('hypotheses'), annotations: box('annotations'), artifacts: box('artifacts'),
    updates: box('status-updates'), postmortem: box('postmortem'), items: box('action-items'),
    runs: box('runs'), health: box('health-now'),
  };
  const post = (path, body) => api(base + path, { method: 'POST', body });
  // Runs an action; on success reads the timeline again (which redraws what changed).
  async function act(fn, done, msg) {
    if (msg) msg.textContent = '';
    try {
      await fn();
      if (done) toast(done);
      await poll(true);
      return true;
    } catch (e) {
      if (msg) msg.textContent = e.message;
      toast(e.message, true);
      return false;
    }
  }

  // ---- header and actions -------------------------------------------------
  function drawHead() {
    const d = st.doc;
    put(b.head,
      h('h1', { tabindex: '-1' }, h('span', { class: 'inc-id' }, d.id), ' ', h('span', { class: 'inc-title' }, d.title || '')),
      h('p', { class: 'row inc-facts' },
        sevBadge(d.severity), statusBadge(d.status),
        d.service ? ['service ', h('a', { href: '#/service/' + encodeURIComponent(d.service) }, d.service)] : null,
        ' · commander ', h('strong', { id: 'commander' }, d.commander || 'none'),
        ' · opened ', when(d.opened_at), d.reopened ? ` · reopened ${d.reopened}×` : null),
      h('dl', { class: 'kv wide' },
        h('dt', {}, 'services'), h('dd', {}, (d.services || []).join(', ') || '–'),
        h('dt', {}, 'onset'), h('dd', {}, d.onset_at ? fmtTime(d.onset_at) : '–'),
        h('dt', {}, 'source'), h('dd', {}, d.source ? [d.source.kind || '', d.source.name ? ' ' + d.source.name : ''] : '–'),
        h('dt', {}, 'team'), h('dd', {}, d.team || '–'),
        h('dt', {}, 'runbook'), h('dd', {}, d.runbook ? safeLink(d.runbook) : '–'),
        d.acknowledged_at ? [h('dt', {}, 'acknowledged'), h('dd', {}, when(d.acknowledged_at))] : null,
        d.mitigated_at ? [h('dt', {}, 'mitigated'), h('dd', {}, when(d.mitigated_at))] : null,
        d.resolved_at ? [h('dt', {}, 'resolved'), h('dd', {}, when(d.resolved_at))] : null),
      (d.checklist || []).length ? h('div', {}, h('h2', { class: 'sr' }, 'Checklist'), h('ul', { class: 'checklist' }, d.checklist.map(c => h('li', {}, String(c))))) : null);
    // Redrawn only when what it offers changed, so a live update does not wipe a note being typed.
    const key = [d.status, d.severity, d.commander].join('|');
    if (responder && key !== drawHead.key) { drawHead.key = key; drawActions(); }
  }

  function drawActions() {
    const d = st.doc;
    const note = h('input', { name: 'note', autocomplete: 'off' });
    const msg = h('p', { class: 'error', role: 'alert' });
    const n = () => note.value.trim() || undefined;
    const sev = h('select', { name: 'severity' }, SEVERITIES.map(s => h('option', { value: s, selected: s === d.severity }, s)));
    const who = h('input', { name: 'commander', value: d.commander || '', autocomplete: 'off' });
    put(b.actions, h('section', { class: 'card', 'aria-labelledby': 'h-respond' },
      h('h2', { id: 'h-respond' }, 'Respond'),
      field('Note (kept in the timeline)', note),
      h('div', { class: 'row' }, (ARROWS[d.status] || []).map(([to, label]) =>
        h('button', { type: 'button', class: to === 'resolved' ? 'ok' : '', onclick: () => act(() => post('/transition', { to, note: n() }), `${d.id} ${to}.`, msg) }, label))),
      h('div', { class: 'row actions-row' },
        field('Severity', sev),
        h('button', { type: 'button', class: 'ghost', onclick: () => act(() => post('/severity', { severity: sev.value, note: n() }), `Severity ${sev.value}.`, msg) }, 'Change severity'),
        field('Commander', who),
        h('button', { type: 'button', class: 'ghost', onclick: () => act(() => post('/commander', { commander: who.value.trim() || null, note: n() }), who.value.trim() ? `Handed off to ${who.value.trim()}.` : 'Commander cleared.', msg) }, 'Hand off'),
        session.me && session.me.actor && d.commander !== session.me.actor
          ? h('button', { type: 'button', class: 'ghost', onclick: () => act(() => post('/commander', { commander: session.me.actor, note: n() }), 'You are the commander.', msg) }, 'Take command') : null),
      msg));
  }

  // ---- triage summary and suspects ----------------------------------------
  async function loadSummary() {
    const r = await tryApi(base + '/summary');
    st.summary = r.error ? null : r;
    const refresh = h('button', { type: 'button', class: 'small ghost', onclick: () => loadSummary().then(loadSuspects) }, 'Refresh');
    if (r.status === 404) put(b.summary, notAvailable('triage summary'));
    else if (r.error) put(b.summary, failed(r), refresh);
    else put(b.summary, summaryView(r), refresh);
  }

  async function loadSuspects() {
    const r = await tryApi(base + '/suspects');
    let list = r.suspects;
    if (r.status === 404) list = st.summary && Array.isArray(st.summary.suspects) ? st.summary.suspects : null;
    if (!list) put(b.suspects, r.status === 404 ? notAvailable('root-cause ranking') : failed(r));
    else put(b.suspects, suspectsView(list, r.error || (st.summary && st.summary.suspects_error)));
  }

  // ---- timeline (the live part) -------------------------------------------
  const kindSel = h('select', { name: 'kind' }, h('option', { value: '' }, 'every kind'), KINDS.map(k => h('option', { value: k, selected: k === st.kind }, k)));
  kindSel.addEventListener('change', () => {
    st.kind = kindSel.value;
    history.replaceState(null, '', ctx.link('#/incident/' + encodeURIComponent(id), { kind: st.kind }));
    drawTimeline();
  });
  function drawTimeline() {
    const shown = st.entries.filter(e => !st.kind || e.kind === st.kind).slice().reverse();
    put(b.timeline, shown.length ? h('ol', { class: 'plain timeline', tabindex: '0', 'aria-label': 'Timeline entries, newest first' }, shown.map(e => h('li', { class: 'tl-' + e.kind },
      h('time', { datetime: e.at || '', title: e.at || '' }, fmtTime(e.at)),
      ' ', badge(e.kind), ' ', h('span', { class: 'actor' }, e.actor || ''), ' ',
      h('span', { class: 'tl-text' }, e.text || '')))) : h('p', { class: 'muted' }, st.kind ? `No ${st.kind} entry.` : 'Nothing yet.'));
  }

  // Reads the timeline; when it grew, redraws it and everything a new entry may have changed.
  let polling = false;
  async function poll(force) {
    if (polling && !force) return;
    polling = true;
    try {
      const r = await tryApi(base + '/timeline');
      if (r.error) return;
      const entries = r.entries || [];
      const last = entries.length ? entries[entries.length - 1].seq : 0;
      if (last === st.lastSeq && !force) return;
      const firstRead = st.lastSeq < 0;
      st.entries = entries;
      st.lastSeq = last;
      drawTimeline();
      if (firstRead) return;
      const d = await tryApi(base);
      if (!d.error) { st.doc = d; drawHead(); }
      await Promise.all([loadHypotheses(), loadAnnotations(), loadArtifacts(), loadUpdates(), loadItems(), loadRuns()]);
    } finally { polling = false; }
  }

  // ---- remediation runs ---------------------------------------------------
  // Read again with the timeline (a run's creation, approval and end are
  // timeline entries) and on every poll while one is not over. A run whose
  // rationale field holds text is not redrawn, so typing is not lost.
  st.runsKey = '';
  st.runIds = new Set();
  let runsBusy = null, runsAgain = false, runsVia = 'read';
  // One read at a time; events that arrive meanwhile make one more read
  // after it. via ("stream", "poll", "read") is kept on the panel as
  // data-via with each redraw: what brought the last change.
  function loadRuns(via) {
    runsVia = via || 'read';
    if (runsBusy) { runsAgain = true; return runsBusy; }
    runsBusy = readRuns().finally(() => {
      runsBusy = null;
      if (runsAgain) { runsAgain = false; loadRuns(runsVia); }
    });
    return runsBusy;
  }
  async function readRuns() {
    const r = await tryApi('/api/v1/runs', { query: { incident: st.doc.id || id } });
    if (r.status === 404) { put(b.runs, notAvailable('remediation engine')); st.runsLive = false; return; }
    if (r.error) { put(b.runs, failed(r)); return; }
    const runs = r.runs || [];
    st.runsLive = runs.some(x => !TERMINAL.has(x.status));
    st.runIds = new Set(runs.map(x => x.id));
    const key = JSON.stringify(runs.map(x => [x.id, x.status, (x.steps || []).map(s => s.status), x.verification || '']));
    const typing = [...b.runs.querySelectorAll('input[name=run-rationale]')].some(i => i.value);
    if (key === st.runsKey || typing) return;
    st.runsKey = key;
    b.runs.dataset.via = runsVia;
    put(b.runs, runs.length ? runs.map(x => runView(x, () => poll(true))) : h('p', { class: 'muted' }, 'No remediation run for this incident.'));
  }

  // ---- the incident's services now -----------------------------------------
  // Health as the service catalogue rates it (a page alert firing, a probe or
  // heartbeat failing, errors above objective) over the last HEALTH_WINDOW,
  // with its reason and figures: what "recovered" looks like without leaving
  // the page.
  async function loadHealth() {
    const d = st.doc;
    const names = [...new Set([d.service, ...(d.services || [])].filter(Boolean))].slice(0, 8);
    if (!names.length) { put(b.health, h('p', { class: 'muted' }, 'This incident names no service.')); return; }
    // one call for all of them: the catalogue rates every service in the same pass
    const all = await tryApi('/api/v1/services', { query: { window: HEALTH_WINDOW } });
    const by = new Map(Array.isArray(all) ? all.map(x => [x.service, x]) : []);
    put(b.health, h('ul', { class: 'plain health-now' }, names.map(n => {
      const r = all.error ? all : by.get(n) || { error: 'not in the service catalogue' };
      const red = r; // the RED figures are top-level members
      const word = r.error ? 'unknown' : r.health || 'unknown';
      return h('li', { class: 'health-row', 'data-service': n, 'data-health': word },
        h('a', { href: '#/service/' + encodeURIComponent(n) }, h('strong', {}, n)), ' ',
        badge(word === 'ok' ? 'healthy' : word, word === 'ok' ? 'ok' : word === 'failing' ? 'bad' : word === 'degraded' ? 'warn' : ''), ' ',
        h('span', { class: 'health-reason' }, r.error ? r.error : r.health_reason || ''),
        r.error ? null : h('span', { class: 'muted' }, ` · ${fmtNum(red.requests, 0)} requests, error ratio ${fmtPct(red.error_ratio)}` +
          (red.p99_ms !== undefined && red.p99_ms !== null ? `, p99 ${fmtNum(red.p99_ms, 0)} ms` : '') + ` (last ${HEALTH_WINDOW})`));
    })), h('p', { class: 'muted' }, 'Read every few seconds; healthy means no page alert firing, no probe or heartbeat failing and errors within objective.'));
  }

  // ---- hypotheses ---------------------------------------------------------
  function evidenceLink(e) {
    const ref = String(e.ref || '');
    if (e.kind === 'logs') return h('a', { href: ctx.link('#/explore/logs', { q: ref, since: '6h' }) }, ref);
    if (e.kind === 'trace' && /^[0-9a-fA-F]{1,64}$/.test(ref)) return h('a', { href: '#/trace/' + ref }, ref);
    if (e.kind === 'promql') return h('a', { href: ctx.link('#/explore/metrics', { query: ref, range: '1h' }) }, ref);
    if (e.kind === 'link') return safeLink(ref);
    return ref;
  }
  async function loadHypotheses() {
    const r = await tryApi(base + '/hypotheses');
    if (r.error) { put(b.hypotheses, failed(r)); return; }
    const decide = (hy, state) => act(() => post('/hypotheses/' + encodeURIComponent(hy.id), { state }), `${hy.id} ${state}.`);
    put(b.hypotheses, table('Hypotheses', ['Id', 'Statement', 'Confidence', 'Evidence', 'State', 'By', ''],
      (r.hypotheses || []).map(hy => [hy.id, h('span', { class: 'statement' }, hy.statement || ''), fmtPct(hy.confidence),
        (hy.evidence || []).length ? h('ul', { class: 'plain' }, hy.evidence.map(e => h('li', {}, badge(e.kind || '?'), ' ', evidenceLink(e)))) : '–',
        badge(hy.state, hy.state === 'confirmed' ? 'ok' : hy.state === 'rejected' ? 'bad' : ''),
        [hy.created_by || '', hy.decided_by ? ` · ${hy.state} by ${hy.decided_by}` : ''],
        responder && hy.state === 'open' ? h('div', { class: 'row' },
          h('button', { type: 'button', class: 'small', onclick: () => decide(hy, 'confirmed') }, 'Confirm'),
          h('button', { type: 'button', class: 'small ghost', onclick: () => decide(hy, 'rejected') }, 'Reject')) : '']),
      'No hypothesis yet.'));
  }
  function hypothesisForm() {
    const statement = h('textarea', { name: 'statement', rows: '2', required: true });
    const conf = h('input', { name: 'confidence', type: 'number', min: '0', max: '1', step: '0.05', value: '0.5' });
    const ev = h('textarea', { name: 'evidence', rows: '2', spellcheck: 'false', placeholder: 'trace 4bf92f35…\nlink https://…' });
    const msg = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { 'aria-label': 'Add a hypothesis' },
      field('Statement', statement), field('Confidence (0–1)', conf),
      field(`Evidence, one per line: KIND REF (${EVIDENCE.join(', ')}); an address alone is a link`, ev),
      h('button', { type: 'submit' }, 'Add hypothesis'), msg);
    form.addEventListener('submit', async ev2 => {
      ev2.preventDefault();
      msg.textContent = '';
      if (!statement.value.trim()) { msg.textContent = 'Say what you think happened: the statement is required.'; statement.focus(); return; }
      const evidence = [];
      for (const line of ev.value.split('\n').map(l => l.trim()).filter(Boolean)) {
        const m = line.match(/^(\S+)\s+(.+)$/);
        if (m && EVIDENCE.includes(m[1])) evidence.push({ kind: m[1], ref: m[2].trim() });
        else if (/^https?:\/\/\S+$/i.test(line)) evidence.push({ kind: 'link', ref: line });
        else { msg.textContent = `Evidence "${line}": start with one of ${EVIDENCE.join(', ')}.`; ev.focus(); return; }
      }
      const ok = await act(() => post('/hypotheses', { statement: statement.value.trim(), confidence: Number(conf.value), evidence }), 'Hypothesis added.', msg);
      if (ok) { statement.value = ''; ev.value = ''; }
    });
    return form;
  }

  // ---- annotations --------------------------------------------------------
  async function loadAnnotations() {
    const r = await tryApi(base + '/annotations');
    if (r.error) { put(b.annotations, failed(r)); return; }
    const list = (r.annotations || []).slice().reverse();
    put(b.annotations, list.length ? h('ol', { class: 'plain annotations' }, list.map(a => h('li', { class: 'annotation' },
      h('p', { class: 'muted' }, h('span', { class: 'actor' }, a.actor || ''), ' · ', when(a.at)),
      markdown((a.data && a.data.markdown) || a.text || '')))) : h('p', { class: 'muted' }, 'No annotation yet.'));
  }
  function annotationForm() {
    const md = h('textarea', { name: 'markdown', rows: '3', required: true });
    const msg = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { 'aria-label': 'Annotate' }, field('Annotation (Markdown: **bold**, `code`, lists, links)', md), h('button', { type: 'submit' }, 'Add annotation'), msg);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      if (!md.value.trim()) { msg.textContent = 'The annotation is empty.'; md.focus(); return; }
      if (await act(() => post('/annotations', { markdown: md.value }), 'Annotation added.', msg)) md.value = '';
    });
    return form;
  }

  // ---- artifacts ----------------------------------------------------------
  async function download(a) {
    try {
      const r = await fetch(base + '/artifacts/' + encodeURIComponent(a.id), { headers: headers({ Accept: '*/*' }), credentials: 'omit', cache: 'no-store' });
      if (!r.ok) throw new Error((await r.text()).slice(0, 300) || 'HTTP ' + r.status);
      const url = URL.createObjectURL(await r.blob());
      const link = h('a', { href: url, download: a.name || a.id, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { toast(e.message, true); }
  }
  async function loadArtifacts() {
    const r = await tryApi(base + '/artifacts');
    if (r.error) { put(b.artifacts, failed(r)); return; }
    put(b.artifacts, table('Artifacts', ['Name', 'Type', 'Size', 'SHA-256', 'By', 'When', ''],
      (r.artifacts || []).map(a => [a.name || a.id, a.content_type || '', fmtNum(a.size, 0) + ' B',
        h('code', { title: a.sha256 || '' }, String(a.sha256 || '').slice(0, 12)), a.uploaded_by || '', when(a.uploaded_at),
        h('button', { type: 'button', class: 'small ghost', onclick: () => download(a), 'aria-label': 'Download ' + (a.name || a.id) }, 'Download')]),
      'No artifact yet.'));
  }
  function artifactForm() {
    const file = h('input', { name: 'file', type: 'file', required: true });
    const msg = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { 'aria-label': 'Upload an artifact' }, field('File', file), h('button', { type: 'submit' }, 'Upload'), msg);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const f = file.files && file.files[0];
      if (!f) { msg.textContent = 'Choose a file first.'; file.focus(); return; }
      const ok = await act(async () => {
        const r = await fetch(base + '/artifacts?name=' + encodeURIComponent(f.name), { method: 'POST', body: f, credentials: 'omit',
          headers: headers({ 'Content-Type': f.type || 'application/octet-stream' }) });
        if (!r.ok) {
          let detail = '';
          try { const j = await r.json(); detail = j.detail || j.title; } catch (e) { detail = ''; }
          throw new Error(detail || 'HTTP ' + r.status);
        }
      }, `${f.name} uploaded.`, msg);
      if (ok) file.value = '';
    });
    return form;
  }

  // ---- status updates -----------------------------------------------------
  async function loadUpdates() {
    const r = await tryApi(base + '/status-updates');
    if (r.error) { put(b.updates, failed(r)); return; }
    const list = (r.status_updates || []).slice().reverse();
    put(b.updates, list.length ? h('ol', { class: 'plain updates' }, list.map(u => h('li', {},
      h('p', {}, h('strong', {}, u.state || ''), ' · ', h('span', { class: 'actor' }, u.by || ''), ' · ', when(u.at)),
      h('p', { class: 'message' }, u.message || '')))) : h('p', { class: 'muted' }, 'No status update yet.'));
  }
  function updateForm() {
    const state = h('select', { name: 'state' }, UPDATE_STATES.map(s => h('option', { value: s }, s)));
    const message = h('textarea', { name: 'message', rows: '2', required: true });
    const msg = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { 'aria-label': 'Post a status update' }, field('State', state),
      field('Message (public: shown on the status page)', message), h('button', { type: 'submit' }, 'Post status update'), msg);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      if (!message.value.trim()) { msg.textContent = 'The message is empty.'; message.focus(); return; }
      if (await act(() => post('/status-updates', { state: state.value, message: message.value.trim() }), 'Status update posted.', msg)) message.value = '';
    });
    return form;
  }

  // ---- postmortem and action items ---------------------------------------
  async function loadPostmortem() {
    try {
      const r = await fetch(base + '/postmortem', { headers: headers({ Accept: 'text/markdown' }), credentials: 'omit', cache: 'no-store' });
      if (r.status === 404) { put(b.postmortem, notAvailable('postmortem draft')); return; }
      const text = await r.text();
      if (!r.ok) { put(b.postmortem, failed({ error: text.slice(0, 300) })); return; }
      let md = text;
      if (/^\s*\{/.test(text)) { try { const j = JSON.parse(text); md = j.markdown || j.draft || text; } catch (e) { md = text; } }
      put(b.postmortem, h('div', { class: 'postmortem' }, markdown(md)),
        h('details', {}, h('summary', {}, 'Markdown source'), h('pre', { class: 'code' }, md)));
    } catch (e) { put(b.postmortem, failed({ error: e.message })); }
  }
  async function loadItems() {
    const r = await tryApi(base + '/actions');
    if (r.status === 404 && !r.actions) { put(b.items, notAvailable('list of action items')); return; }
    if (r.error) { put(b.items, failed(r)); return; }
    put(b.items, table('Action items', ['Item', 'Title', 'Owner', 'Due', 'Status'],
      (r.actions || []).map(a => [a.key || '', a.title || '', a.owner || '', a.due || '', badge(a.status || '', a.status === 'done' ? 'ok' : '')]),
      'No action item yet.'));
  }
  function itemForm() {
    const t = h('input', { name: 'item-title', required: true, autocomplete: 'off' });
    const owner = h('input', { name: 'owner', required: true, autocomplete: 'off' });
    const due = h('input', { name: 'due', type: 'date', required: true });
    const msg = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'query', 'aria-label': 'Add an action item' }, field('Action item', t), field('Owner', owner), field('Due', due),
      h('button', { type: 'submit' }, 'Add action item'), msg);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      if (!t.value.trim() || !owner.value.trim() || !due.value) { msg.textContent = 'An action item needs a title, an owner and a due date.'; return; }
      if (await act(() => post('/actions', { title: t.value.trim(), owner: owner.value.trim(), due: due.value }), 'Action item added.', msg)) { t.value = ''; owner.value = ''; due.value = ''; }
    });
    return form;
  }

  // ---- the page -----------------------------------------------------------
  drawHead();
  put(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/incidents' }, '← open incidents')),
    b.head, b.actions,
    h('section', { class: 'card', id: 'services-now', 'aria-labelledby': 'h-services-now' },
      h('h2', { id: 'h-services-now' }, 'Services now'), b.health),
    h('div', { class: 'cols' },
      section('Triage summary', b.summary),
      section('Suspects', h('p', { class: 'muted' }, 'Ranked by the root-cause engine; open one for its evidence.'), b.suspects)),
    // the fix right under the cause: a run waiting for approval is the next thing a responder acts on
    h('section', { class: 'card', id: 'remediation', 'aria-labelledby': 'h-remediation' }, h('h2', { id: 'h-remediation' }, 'Remediation runs'),
      h('p', { class: 'muted' }, 'What the self-healing engine did or wants to do here; live.'), b.runs),
    section('Timeline', h('div', { class: 'row' }, field('Show', kindSel), h('span', { class: 'muted live' }, 'updates live')), b.timeline),
    section('Hypotheses', b.hypotheses, responder ? hypothesisForm() : null),
    h('div', { class: 'cols' },
      section('Annotations', b.annotations, responder ? annotationForm() : null),
      section('Status updates', b.updates, responder ? updateForm() : null)),
    section('Artifacts', b.artifacts, responder ? artifactForm() : null),
    section('Postmortem draft', b.postmortem, h('h3', {}, 'Action items'), b.items, responder ? itemForm() : null));
  await Promise.all([
    loadSummary().then(loadSuspects), poll(), loadHypotheses(), loadAnnotations(), loadArtifacts(), loadUpdates(),
    loadPostmortem(), loadItems(), loadRuns(), loadHealth(),
  ]);

  // Live: poll the timeline, and read it at once when the stream says an incident changed.
  const timer = setInterval(() => {
    poll(false).catch(() => {});
    if (st.runsLive && !stream.status.connected) loadRuns('poll').catch(() => {});
    loadHealth().catch(() => {});
  }, POLL_MS);
  const off = stream.on('*', (type, data) => {
    if (type === 'run') {
      // a run of this incident moved (or one shown here, before its incident link was stored)
      if (data && (data.incident === (st.doc.id || id) || st.runIds.has(data.run))) loadRuns('stream').catch(() => {});
      return;
    }
    if (type === 'alert') {
      if (data && (st.doc.services || []).concat(st.doc.service || []).includes(data.service)) loadHealth().catch(() => {});
      return;
    }
    if (type === 'summary') {
      // the triage was recomputed and its ranking moved (a young incident's firms up as data arrives)
      if (data && (data.incident === st.doc.id || data.incident === id)) loadSummary().then(loadSuspects).catch(() => {});
      return;
    }
    if (!String(type).startsWith('incident')) return;
    const inner = data && typeof data.incident === 'object' ? data.incident : null;
    const about = data && (inner ? inner.id : data.incident || data.id);
    if (!about || about === st.doc.id || about === id) poll(false).catch(() => {});
  });
  return () => { clearInterval(timer); off(); };
}

function ratioPair(bl, inc) {
  return `${fmtPct(bl)} → ${fmtPct(inc)}`;
}

function summaryView(s) {
  const imp = s.impact || {};
  const parts = [];
  parts.push(h('p', {}, `Since onset: ${fmtNum(imp.requests, 0)} requests, ${fmtNum(imp.errors, 0)} errors`,
    imp.affected_users !== null && imp.affected_users !== undefined ? `, ${fmtNum(imp.affected_users, 0)} users affected` : '', '.'));
  parts.push(h('h3', {}, 'Impact'), table('Impact per service', ['Service', 'Requests', 'Error ratio (before → now)', 'p90 ms (before → now)'],
    (imp.services || []).map(x => [x.service, fmtNum((x.incident || {}).requests, 0), ratioPair((x.baseline || {}).error_ratio, (x.incident || {}).error_ratio),
      `${fmtNum((x.baseline || {}).p90_ms)} → ${fmtNum((x.incident || {}).p90_ms)}`]), 'No traffic seen in the window.'));
  if ((imp.slo_budget || []).length) {
    parts.push(table('SLO budget', ['SLO', 'Left at onset', 'Left now', 'Burned'],
      imp.slo_budget.map(x => [x.slo, fmtPct(x.remaining_at_onset), fmtPct(x.remaining_now), fmtPct(x.burned)])));
  }
  parts.push(h('h3', {}, 'Signals'), table('Signals', ['Service', 'Signal', 'Before', 'Now', '×'],
    (s.signals || []).map(x => [x.service, x.metric, fmtNum(x.baseline), fmtNum(x.incident), fmtNum(x.magnitude)]), 'No signal moved.'));
  parts.push(h('h3', {}, 'Error classes'), table('Error classes', ['Service', 'Template', 'Count', ''],
    (s.error_classes || []).map(x => [x.service, h('code', {}, x.template || ''), `${fmtNum(x.count, 0)} (was ${fmtNum(x.baseline_count, 0)})`,
      x.new ? badge('new', 'bad') : x.spiking ? badge('spiking', 'warn') : '']), 'No new or spiking error.'));
  parts.push(h('h3', {}, 'Changes'), table('Changes', ['Before onset', 'Kind', 'Service', 'Version', 'By', 'What'],
    (s.changes || []).map(x => [x.before_onset_s !== undefined ? fmtNum(x.before_onset_s / 60, 1) + ' min' : '', badge(x.kind || ''), x.service || '', x.version || '', x.actor || '', x.description || '']),
    'No change in the two hours before the onset.'));
  parts.push(h('h3', {}, 'Exemplar traces'), (s.exemplar_traces || []).length
    ? h('ul', { class: 'plain' }, s.exemplar_traces.map(t => h('li', {},
      /^[0-9a-fA-F]{1,64}$/.test(t.trace_id || '') ? h('a', { href: '#/trace/' + t.trace_id }, t.trace_id.slice(0, 16)) : String(t.trace_id || ''),
      ' ', t.service || '', ' ', t.operation || '', ' ', fmtNum(t.duration_ms), ' ms ', h('span', { class: 'muted' }, t.status_message || ''))))
    : h('p', { class: 'muted' }, 'No failing trace in the window.'));
  parts.push(h('p', {}, 'Runbook: ', s.runbook ? safeLink(s.runbook) : h('span', { class: 'muted' }, 'none')));
  if (s.computed_at) parts.push(h('p', { class: 'muted' }, 'Computed ', when(s.computed_at), '.'));
  return h('div', { class: 'summary' }, parts);
}

function evidenceText(e) {
  if (!e || typeof e !== 'object') return String(e);
  return Object.entries(e).filter(([k]) => k !== 'kind')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? fmtNum(v, 3) : typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

// A metric of the root-cause engine as a person reads it: name and unit.
const METRICS = {
  error_ratio: ['error ratio', v => fmtPct(v)],
  rate: ['request rate', v => fmtNum(v) + '/s'],
  latency_p50: ['p50 latency', v => fmtNum(v) + ' ms'],
  latency_p90: ['p90 latency', v => fmtNum(v) + ' ms'],
  latency_p99: ['p99 latency', v => fmtNum(v) + ' ms'],
};
const secs = v => (Number.isFinite(v) ? fmtNum(v, 0) : '?') + ' s';
const unixTime = s => Number.isFinite(s) ? new Date(s * 1000).toISOString().slice(11, 19) + ' UTC' : '?';

// Each kind of evidence (src/respond/rca.c, triage.c) in words; an unknown kind is shown as its fields.
const EVIDENCE_VIEWS = {
  metric: e => {
    const [label, fmt] = METRICS[e.metric] || [String(e.metric || 'metric'), v => fmtNum(v)];
    return [`${label} ${fmt(e.baseline)} at baseline → ${fmt(e.observed)} now`, h('span', { class: 'muted' }, ` (z ${fmtNum(e.z, 1)})`)];
  },
  change: e => [`${e.change_kind || 'change'} `, h('strong', { class: 'change-summary' }, e.summary || e.ref || ''),
    ` at ${unixTime(e.at)}, ${secs(e.before_onset_s)} before the onset · `,
    h('a', { href: e.change_kind === 'deploy' ? '#/changes/deploys' : '#/changes' }, 'see in Changes'),
    e.node ? [' · ', h('a', { href: '#/service/' + encodeURIComponent(e.node) }, e.node + ' (its chart marks it)')] : null],
  callers_errors: e => e.edge ? `its callers fail on ${e.edge}` : `caller ${e.caller || '?'} errors too (${e.metric || ''})`,
  onset_order: e => e.role === 'victim' ? `went wrong after ${e.explained_by}, which it depends on`
    : `went wrong first; then ${(e.callers_after || []).join(', ') || 'its callers'}`,
  off_path: e => `not on the path to ${e.target} (ranked lower)`,
  own_signal: e => `${e.detail || 'its own signal'} (${e.alert || ''})`,
};

function evidenceView(e) {
  const kind = (e && e.kind) || 'evidence';
  const view = EVIDENCE_VIEWS[kind];
  return h('li', { class: 'evidence-' + kind }, badge(kind.replace(/_/g, ' ')), ' ', view ? view(e) : evidenceText(e));
}

// One sentence for a newcomer: the top suspect and the change just before it, if any.
function likelyCause(top) {
  const ch = (top.evidence || []).find(e => e && e.kind === 'change');
  const name = String(top.node || '').split('@')[0];
  return h('p', { class: 'likely-cause' }, 'Likely cause: ', h('strong', {}, name), ` (${top.kind || 'suspect'})`,
    ch ? [', after the ', ch.change_kind || 'change', ' ', h('strong', {}, ch.summary || ch.ref || ''), ` ${secs(ch.before_onset_s)} before the onset`] : null, '.');
}

function suspectsView(list, error) {
  if (!list.length) return h('p', { class: 'muted' }, error || 'No suspect: nothing changed enough to rank.');
  // the first is open: the likeliest cause and its evidence are what a responder reads first
  return [likelyCause(list[0]), h('ol', { class: 'suspects' }, list.map((x, i) => h('li', {},
    h('details', { open: i === 0 },
      h('summary', {}, h('strong', { class: 'suspect-node' }, x.node || ''), ' ', badge(x.kind || ''), ` score ${fmtNum(x.score, 3)} · confidence ${fmtPct(x.confidence)}`),
      (x.evidence || []).length ? h('ul', { class: 'evidence' }, x.evidence.map(evidenceView))
        : h('p', { class: 'muted' }, 'No evidence recorded.')))))];
}

// Remediation runs as the incident page and the automation page show them:
// status, policy@version, mode, why it ran (or was refused), and each step
// with its action, the exact argv or URL, an output excerpt, exit status and
// timing. Approve and Reject are drawn for a run awaiting approval only to an
// approver who is not the policy's author (the requester); Cancel for a run
// that has not acted yet, to a responder. The server checks roles and
// four-eyes again and its refusal is shown as it worded it. Every field from
// the server is text (dom.js).
import { api, can, session } from './api.js';
import { h, badge, table, fmtNum, ago, toast, field } from './dom.js';

export const TERMINAL = new Set(['succeeded', 'failed', 'undone', 'rejected', 'cancelled', 'refused', 'dry-run', 'expired']);
const GOOD = new Set(['succeeded', 'ok']);
const BAD = new Set(['failed', 'undone', 'rejected', 'refused', 'expired', 'timed-out']);
const OUTPUT_MAX = 600;

export function runBadge(s) {
  return badge(s || '?', GOOD.has(s) ? 'ok' : BAD.has(s) ? 'bad' : s === 'awaiting-approval' ? 'warn' : '');
}

function excerpt(s) {
  const t = String(s || '');
  return t.length > OUTPUT_MAX ? t.slice(0, OUTPUT_MAX) + ` … (${t.length - OUTPUT_MAX} more bytes)` : t;
}

function stepRows(steps) {
  return (steps || []).map(s => [
    String(s.index ?? ''),
    [badge(s.action || '?'), s.name ? [' ', s.name] : null],
    h('code', { class: 'step-describe' }, s.describe || ''),
    runBadge(s.status),
    s.exit_status !== undefined ? String(s.exit_status) + (s.timed_out ? ' (timed out)' : '') : '–',
    s.duration_ms !== undefined ? fmtNum(s.duration_ms, 0) + ' ms' : '–',
    s.output || s.error ? h('pre', { class: 'code step-output' }, excerpt(s.output), s.error ? ['\n', excerpt(s.error)] : null) : '–',
  ]);
}

// The actions a viewer of this run may take: {approve, reject, cancel}.
export function runActions(run) {
  const me = session.me && session.me.actor;
  const waiting = run.status === 'awaiting-approval';
  return {
    approve: waiting && can('approver') && me !== run.policy_author,
    reject: waiting && can('approver') && me !== run.policy_author,
    cancel: (waiting || run.status === 'pending') && can('responder'),
  };
}

// One run as an <article>; onDone() is called after an action succeeded.
export function runView(run, onDone) {
  const acts = runActions(run);
  const why = h('input', { name: 'run-rationale', autocomplete: 'off' });
  const msg = h('p', { class: 'error', role: 'alert' });
  async function act(verb, label) {
    msg.textContent = '';
    const rationale = why.value.trim();
    if (verb !== 'approve' && !rationale) { msg.textContent = `Say why: a rationale is required to ${verb}.`; why.focus(); return; }
    try {
      await api(`/api/v1/runs/${encodeURIComponent(run.id)}/${verb}`, { method: 'POST', body: rationale ? { rationale } : {} });
      toast(`${run.id} ${label}.`);
      why.value = '';
      if (onDone) await onDone();
    } catch (e) {
      msg.textContent = e.message;
      toast(e.message, true);
    }
  }
  const buttons = acts.approve || acts.reject || acts.cancel ? h('div', { class: 'run-actions' },
    field('Rationale (recorded in the audit log; required to reject or cancel)', why),
    h('div', { class: 'row' },
      acts.approve ? h('button', { type: 'button', class: 'ok', onclick: () => act('approve', 'approved') }, 'Approve') : null,
      acts.reject ? h('button', { type: 'button', class: 'ghost', onclick: () => act('reject', 'rejected') }, 'Reject') : null,
      acts.cancel ? h('button', { type: 'button', class: 'ghost', onclick: () => act('cancel', 'cancelled') }, 'Cancel run') : null),
    msg) : null;
  const waitingNote = run.status === 'awaiting-approval' && !acts.approve
    ? h('p', { class: 'muted' }, can('approver') && session.me && session.me.actor === run.policy_author
      ? 'Waiting for another approver: you wrote this policy, so you cannot approve its run.'
      : 'Waiting for an approver.', run.approval ? [' Request ', h('a', { href: '#/changes/approvals' }, run.approval), '.'] : null)
    : null;
  return h('article', { class: 'run', 'data-run': run.id, 'data-status': run.status || '', 'aria-labelledby': 'h-' + run.id },
    h('h3', { id: 'h-' + run.id }, h('span', { class: 'run-id' }, run.id), ' ', runBadge(run.status), ' ',
      h('span', { class: 'run-policy' }, `${run.policy || '?'}@v${run.policy_version ?? '?'}`), ' ', badge(run.mode || '')),
    h('dl', { class: 'kv wide' },
      h('dt', {}, 'service'), h('dd', {}, run.service || '–'),
      h('dt', {}, 'created'), h('dd', {}, run.created ? h('time', { datetime: run.created, title: run.created }, ago(run.created)) : '–'),
      h('dt', {}, 'rationale'), h('dd', { class: 'run-rationale' }, run.rationale || '–'),
      run.reason ? [h('dt', {}, run.status === 'refused' ? 'refused because' : 'reason'), h('dd', { class: 'run-reason' }, run.reason)] : null,
      run.approved_by ? [h('dt', {}, 'approved by'), h('dd', {}, run.approved_by)] : null,
      run.rejected_by ? [h('dt', {}, 'rejected by'), h('dd', {}, run.rejected_by)] : null,
      run.verification ? [h('dt', {}, 'verification'), h('dd', { class: 'run-verification' }, run.verification)] : null),
    table('Steps of ' + run.id, ['#', 'Action', 'Runs', 'Status', 'Exit', 'Took', 'Output'], stepRows(run.steps), 'No step.'),
    waitingNote, buttons,
    (run.history || []).length ? h('details', {}, h('summary', {}, 'History'),
      h('ol', { class: 'plain' }, run.history.map(x => h('li', {}, h('time', { datetime: x.at || '' }, x.at || ''), ' ',
        `${x.from || ''} → ${x.to || ''}`, x.why ? [' · ', x.why] : null)))) : null);
}

// A compact table of runs (the automation page).
export function runsTable(runs, empty) {
  return table('Recent runs', ['Run', 'Status', 'Policy', 'Mode', 'Incident', 'Service', 'When', 'Reason'],
    runs.map(r => [r.id, runBadge(r.status), `${r.policy || ''}@v${r.policy_version ?? ''}`, r.mode || '',
      r.incident ? h('a', { href: '#/incident/' + encodeURIComponent(r.incident) }, r.incident) : '–',
      r.service || '–', r.created ? ago(r.created) : '', r.reason || r.verification || '']), empty || 'No run yet.');
}

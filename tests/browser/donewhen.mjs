// The dashboard's "Done when" on the real simulator (test_donewhen.py starts
// ooda and ooda-sim and injects bad-deploy on payments before this runs): an
// approver who has never seen ooda signs in, opens the overview, follows the
// open incident to its page, finds in the triage summary and the top suspect
// that payments is at fault and that the deploy of payments BAD_VERSION came
// just before, approves the waiting rollback, and watches on the same page
// (no reload) the run move to succeeded, drawn from the live feed's run
// events, and payments become healthy. Only the dashboard is used: no API
// call, no CLI. Prints "ok NAME" or "FAIL NAME: why" per check, exits 1 if
// one failed; screenshots of each step go to $SHOTS/donewhen-*.png.
//
// Environment: OODA_URL, APPROVER_TOKEN, BAD_VERSION, SHOTS, CHROMIUM, WEB_MODULES.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const env = process.env;
const require = createRequire(path.join(env.WEB_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = env.SHOTS;
fs.mkdirSync(SHOTS, { recursive: true });
const T0 = Date.now();

let failures = 0;
function check(cond, name, why) {
  console.log((cond ? 'ok ' : 'FAIL ') + name + (cond ? ` (${((Date.now() - T0) / 1000).toFixed(1)} s)` : why ? ': ' + String(why).slice(0, 800) : ''));
  if (!cond) failures++;
  return cond;
}
// What a person sees at that step: the viewport, scrolled to the part that matters (a full
// page of the incident is 6,000 px tall and slow to capture on a loaded machine).
async function shot(page, name, sel) {
  if (sel) await page.locator(sel).first().scrollIntoViewIfNeeded().catch(() => {});
  await page.screenshot({ path: path.join(SHOTS, 'donewhen-' + name + '.png') });
}
async function signIn(p) {
  await p.goto(env.OODA_URL + '/');
  await p.waitForSelector('input[name=token]');
  await p.fill('input[name=token]', env.APPROVER_TOKEN);
  await p.click('form button[type=submit]');
  await p.waitForFunction(() => document.getElementById('main').dataset.ready === '/');
}
async function axe(page, name) {
  if (!await page.evaluate(() => !!window.axe)) await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
  });
  check(res.length === 0, `axe ${name}`, res.join('; '));
}

const browser = await chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });

  // ---- sign in, as a person would: the token in the sign-in form ----------
  // A second tab on the Automation page, signed in too (the token lives in the tab's
  // session storage): it has no poll, only the live feed, and is watched below.
  const auto = await ctx.newPage();
  auto.on('pageerror', e => errors.push('automation: ' + String(e)));
  await Promise.all([signIn(page), signIn(auto).then(async () => {
    await auto.click('nav a[href="#/automation"]');
    await auto.waitForFunction(() => document.getElementById('main').dataset.ready === '/automation');
  })]);
  errors.length = 0; // the shell's first whoami, before the token, is a 401 by design
  auto.on('console', m => { if (m.type() === 'error') errors.push('automation: ' + m.text()); });

  // ---- the overview: wait for the open incident (the page redraws on alerts; a person clicks Overview again) ----
  let link = null;
  for (let i = 0; i < 60 && !link; i++) {
    const links = await page.$$('#open-incidents a[href^="#/incident/"]');
    for (const a of links) {
      const row = await a.evaluate(el => (el.closest('tr') || el).textContent);
      if (row.includes('payments')) { link = a; break; }
    }
    if (!link && links.length) link = links[0];
    if (!link) {
      await page.waitForTimeout(1000);
      if (i % 5 === 4) { // the way a person refreshes it: away and back through the menu
        await page.click('nav a[href^="#/incidents"]').catch(() => {});
        await page.click('nav a[href="#/"]').catch(() => {});
        await page.waitForFunction(() => document.getElementById('main').dataset.ready === '/').catch(() => {});
      }
    }
  }
  if (!check(link !== null, 'the overview lists an open incident', await page.textContent('main'))) throw new Error('no incident');
  await shot(page, '1-overview', '#open-incidents');
  const incHref = await link.getAttribute('href');
  await page.click(`#open-incidents a[href="${incHref}"]`); // found again: the overview may have redrawn meanwhile
  await page.waitForFunction(w => document.getElementById('main').dataset.ready === w, incHref.slice(1).split('?')[0], { timeout: 15000 });
  check(true, `the incident page opens from the overview (${incHref})`);

  // ---- the cause: summary and top suspect name payments and its deploy ----
  await page.waitForSelector('#summary .summary, #summary .error', { timeout: 15000 });
  await page.waitForSelector('#suspects ol.suspects li', { timeout: 15000 }).catch(() => {});
  const changesRow = await page.$$eval('#summary table', ts => {
    const t = ts.find(x => (x.querySelector('caption') || {}).textContent === 'Changes');
    return t ? [...t.querySelectorAll('tbody tr')].map(r => r.textContent) : [];
  });
  check(changesRow.some(r => r.includes('deploy') && r.includes('payments') && r.includes(env.BAD_VERSION)),
    `the triage summary lists the deploy of payments ${env.BAD_VERSION} before the onset`, changesRow.join(' | '));
  // A ranking made seconds after the onset rests on one or two samples; the server recomputes
  // it every 5 s while the incident is young and the page redraws on the stream's summary event.
  const firm = Date.now();
  await page.waitForFunction(() => (document.querySelector('#suspects ol.suspects li .suspect-node') || {}).textContent === 'payments',
    null, { timeout: 40000 }).catch(() => {});
  console.log(`the ranking named payments first ${((Date.now() - firm) / 1000).toFixed(1)} s after the page showed suspects`);
  const top = await page.$eval('#suspects ol.suspects li', el => el.textContent).catch(() => '');
  const topNode = await page.$eval('#suspects ol.suspects li .suspect-node', el => el.textContent).catch(() => '');
  check(topNode === 'payments', 'the top suspect is payments', top);
  check(top.includes('deploy') && top.includes(env.BAD_VERSION), `the top suspect names the deploy and its version ${env.BAD_VERSION}`, top);
  const topOpen = await page.$eval('#suspects ol.suspects li details', el => el.open).catch(() => false);
  check(topOpen, 'the top suspect shows its evidence without a click');
  const likely = await page.textContent('#suspects .likely-cause').catch(() => '');
  check(likely.startsWith('Likely cause: payments') && likely.includes(env.BAD_VERSION) && /\d+ s before the onset/.test(likely),
    'one sentence says the likely cause: payments, after its deploy', likely);
  const change = await page.$eval('#suspects ol.suspects li .evidence-change', el => ({ text: el.textContent, link: !!el.querySelector('a[href^="#/changes"]') }))
    .catch(() => ({ text: '', link: false }));
  check(change.text.includes('deploy') && change.text.includes(env.BAD_VERSION) && change.link && !change.text.includes('before_onset_s'),
    'the top suspect\'s change evidence is in words, with its version and a link to the change', change.text);
  await shot(page, '2-cause', '#services-now');

  // ---- the waiting rollback: approve it on the page -----------------------
  // Every state the run panel draws is recorded with what brought it (data-via).
  try {
    await page.waitForSelector('#runs article.run[data-status="awaiting-approval"] button:has-text("Approve")', { timeout: 30000 });
    check(true, 'the rollback run waits for approval on the incident page');
  } catch (e) { check(false, 'the rollback run waits for approval on the incident page', await page.textContent('#runs')); throw e; }
  const RUN = await page.$eval('#runs article.run[data-status="awaiting-approval"]', el => el.dataset.run);
  const art = `#runs article.run[data-run="${RUN}"]`;
  await page.evaluate(id => {
    window.__runStates = [];
    const runs = document.getElementById('runs');
    const note = () => {
      const a = runs.querySelector(`article.run[data-run="${id}"]`);
      const s = a ? a.dataset.status : '';
      const last = window.__runStates[window.__runStates.length - 1];
      if (s && (!last || last.status !== s)) window.__runStates.push({ status: s, via: runs.dataset.via || '' });
    };
    note();
    new MutationObserver(note).observe(runs, { childList: true, subtree: true, attributes: true });
  }, RUN);
  const runText = await page.textContent(art);
  check(runText.includes('rollback-payments@v1') && runText.includes('/admin/version'), 'the run shows its policy and the exact rollback call', runText.slice(0, 400));
  await shot(page, '3-run-waiting', art);
  const url = page.url();
  await auto.waitForFunction(id => (document.getElementById('automation-runs') || {}).textContent.includes(id), RUN, { timeout: 10000 });
  const autoRow = id => auto.$$eval('#automation-runs tr', (trs, rid) => (trs.find(t => t.textContent.includes(rid)) || {}).textContent || '', id);
  check((await autoRow(RUN)).includes('awaiting-approval'), 'the Automation page lists the run awaiting approval', await autoRow(RUN));
  await page.fill(`${art} input[name=run-rationale]`, `the deploy of payments ${env.BAD_VERSION} broke it; back to 2.3.0`);
  await page.click(`${art} button:has-text("Approve")`);
  await axe(page, 'incident page during the fault'); // while the rollback acts

  // ---- recovery, on the same page -----------------------------------------
  try {
    await page.waitForSelector(`${art}[data-status="succeeded"]`, { timeout: 90000 });
    check(true, 'the approved run reaches succeeded on the open page');
  } catch (e) { check(false, 'the approved run reaches succeeded on the open page', await page.textContent('#runs')); }
  const done = await page.textContent(art);
  console.log('run: ' + ((await page.$eval(`${art} .run-verification`, el => el.textContent).catch(() => '')) || '?'));
  check(/expect held after .*error ratio of payments/.test(done) && done.includes('token:bob'),
    'the run shows the verified recovery and who approved', done.slice(0, 600));
  const states = await page.evaluate(() => window.__runStates);
  check(states.some(s => s.via === 'stream' && s.status !== 'awaiting-approval'),
    'the run panel moved on the live feed\'s run events', JSON.stringify(states));
  try {
    await auto.waitForFunction(id => [...document.querySelectorAll('#automation-runs tr')].some(t => t.textContent.includes(id) && t.textContent.includes('succeeded')),
      RUN, { timeout: 15000 });
    check(await auto.evaluate(() => performance.getEntriesByType('navigation').length === 1 && location.hash === '#/automation'),
      'the Automation page shows the run succeeded without a reload');
  } catch (e) { check(false, 'the Automation page shows the run succeeded without a reload', await autoRow(RUN)); }
  await shot(auto, '5-automation', '#automation-runs');
  try {
    await page.waitForSelector('#health-now li[data-service="payments"][data-health="ok"]', { timeout: 60000 });
    check(true, 'payments shows healthy on the incident page');
  } catch (e) { check(false, 'payments shows healthy on the incident page', await page.textContent('#health-now')); }
  check(page.url() === url && await page.evaluate(() => performance.getEntriesByType('navigation').length === 1),
    'all on the same page: no navigation, no reload');
  await shot(page, '4-recovered', '#services-now');
  check(errors.length === 0, 'no console errors', errors.join(' | '));
} catch (e) {
  check(false, 'the scenario ran to its end', e.message);
} finally {
  await browser.close();
}
console.log(`browser part took ${((Date.now() - T0) / 1000).toFixed(1)} s`);
process.exit(failures ? 1 : 0);

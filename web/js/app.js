// The dashboard's frame: hash routing with deep links (#/service/payments,
// #/explore/logs?q=…, #/trace/ID, #/flags/ENV/KEY@VERSION, #/incident/ID),
// the public status page (/status or #/status, no sign-in),
// the theme toggle, sign-in state and focus handling for keyboard users.
// Each page is a module exporting render(main, ctx) that may return a
// cleanup function, called when the route changes.
import { api, session, setToken, whoami, ApiError } from './api.js';
import { h, put } from './dom.js';
import * as stream from './stream.js';
import * as login from './pages/login.js';
import * as overview from './pages/overview.js';
import * as service from './pages/service.js';
import * as explore from './pages/explore.js';
import * as trace from './pages/trace.js';
import * as changes from './pages/changes.js';
import * as audit from './pages/audit.js';
import * as incidents from './pages/incidents.js';
import * as incident from './pages/incident.js';
import * as automation from './pages/automation.js';
const notFound = {
  title: () => 'Not found',
  render(main, ctx) {
    put(main, h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, 'No page at ', h('code', {}, '#' + ctx.path), '. ', h('a', { href: '#/' }, 'Back to the overview')));
  },
};

// [pattern over the path after '#', page, nav entry it belongs to]
const ROUTES = [
  [/^\/?$/, overview, '#/'],
  [/^\/login$/, login, null],
  [/^\/service\/([^/]+)$/, service, '#/'],
  [/^\/explore(?:\/(logs|traces|metrics))?$/, explore, '#/explore/logs'],
  [/^\/trace\/([0-9a-fA-F]{1,64})$/, trace, '#/explore/logs'],
  [/^\/changes(?:\/(flags|configs|deploys|rollouts|approvals))?$/, changes, '#/changes'],
  [/^\/rollouts\/([^/]+)$/, changes, '#/changes'],
  [/^\/automation$/, automation, '#/automation'],
  [/^\/flags\/([^/]+)\/([^/@]+)(?:@(\d+))?$/, changes, '#/changes'],
  [/^\/configs\/([^/]+)\/([^/@]+)(?:@(\d+))?$/, changes, '#/changes'],
  [/^\/audit$/, audit, '#/audit'],
  [/^\/incidents$/, incidents, '#/incidents?status=open'],
  [/^\/incident\/([^/]+)$/, incident, '#/incidents?status=open'],
  [/^\/status$/, incidents, null],
];
// Pages anyone may open without signing in (they read only public data).
const PUBLIC = new Set(['/login', '/status']);

let cleanup = null;

function parseHash() {
  // The shell served at /status is the public status page, whatever the hash.
  const raw = location.pathname === '/status' ? '/status' : location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  return { path, query };
}

// Navigate to a deep link: nav('#/explore/logs', {q: 'error'}).
export function link(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return path + (s ? '?' + s : '');
}

export function go(path, query, replace) {
  const target = link(path, query);
  if (replace) history.replaceState(null, '', target);
  else if (location.hash !== target) { location.hash = target; return; }
  route();
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { /* page already gone */ } cleanup = null; }
  const { path, query } = parseHash();
  const main = document.getElementById('main');
  if (!session.me && !PUBLIC.has(path)) {
    const ok = await signedIn();
    if (!ok) { go('#/login', { next: location.hash }, true); return; }
  }
  let page = notFound, params = [], navKey = null;
  for (const [re, p, nk] of ROUTES) {
    const m = path.match(re);
    if (m) { page = p; params = m.slice(1).map(x => x === undefined ? x : decodeURIComponent(x)); navKey = nk; break; }
  }
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === navKey) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // A public page seen without signing in shows no navigation to pages that need a token.
  document.body.classList.toggle('public', !session.me && PUBLIC.has(path));
  const ctx = { path, params, query, go, link };
  document.title = (page.title ? page.title(ctx) : 'ooda') + ' · ooda';
  put(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    cleanup = (await page.render(main, ctx)) || null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { signOut(); return; }
    put(main, h('h1', { tabindex: '-1' }, 'Something went wrong'), h('p', { class: 'error' }, e.message));
  }
  main.dataset.ready = path;
  if (route.moved) {
    const h1 = main.querySelector('h1');
    (h1 || main).focus({ preventScroll: false });
  }
  route.moved = true;
}

// True when the stored token (or the open loopback mode) is accepted.
async function signedIn() {
  try {
    await whoami();
  } catch (e) {
    if (session.token) setToken('');
    return false;
  }
  showWho();
  stream.start();
  return true;
}

function showWho() {
  const me = session.me;
  put(document.getElementById('who'), me ? [h('span', { class: 'actor' }, me.actor), ' ', h('span', { class: 'badge role' }, me.role)] : []);
  document.getElementById('logout').hidden = !session.token;
}

export function signOut() {
  setToken('');
  session.me = null;
  stream.stop();
  showWho();
  go('#/login', {}, true);
}

export async function signIn(token) {
  setToken(token);
  session.me = null;
  return signedIn();
}

function theme() {
  const saved = localStorage.getItem('ooda.theme');
  if (saved) document.documentElement.dataset.theme = saved;
  document.getElementById('theme').addEventListener('click', () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === 'dark'
      : matchMedia('(prefers-color-scheme: dark)').matches;
    const next = dark ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    localStorage.setItem('ooda.theme', next);
    window.dispatchEvent(new Event('ooda-theme'));
  });
}

theme();
// The skip link must not change the hash (that is the router's): it moves focus.
document.querySelector('.skip').addEventListener('click', ev => {
  ev.preventDefault();
  document.getElementById('main').focus();
});
document.getElementById('logout').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
route();

// Talking to the daemon: every data call sends the bearer token kept in
// session storage (never a cookie, so there is nothing for another site to
// ride on), and errors come back as the problem+json detail the server wrote.
const KEY = 'ooda.token';

export const session = {
  token: sessionStorage.getItem(KEY) || '',
  me: null, // {actor, role, env, auth_required} from /api/v1/whoami
};

const RANK = { none: 0, ingest: 1, viewer: 2, responder: 3, approver: 4, admin: 5 };

// Does the signed-in caller have at least this role? The server checks
// again on every call; this only decides which buttons to draw.
export function can(role) {
  return !!session.me && (RANK[session.me.role] || 0) >= RANK[role];
}

export function setToken(t) {
  session.token = t;
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || ('HTTP ' + status));
    this.status = status;
  }
}

export function headers(extra) {
  const hd = Object.assign({ Accept: 'application/json' }, extra || {});
  if (session.token) hd.Authorization = 'Bearer ' + session.token;
  return hd;
}

// api('/api/v1/flags', {method, body, headers, query}) → parsed JSON.
export async function api(path, opt = {}) {
  let url = path;
  if (opt.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opt.query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const init = { method: opt.method || 'GET', headers: headers(opt.headers), credentials: 'omit', cache: 'no-store' };
  if (opt.body !== undefined) {
    init.body = typeof opt.body === 'string' ? opt.body : JSON.stringify(opt.body);
    init.headers['Content-Type'] = init.headers['Content-Type'] || 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let j = null;
  try { j = text ? JSON.parse(text) : null; } catch (e) { j = null; }
  if (!r.ok) throw new ApiError(r.status, (j && (j.detail || j.title)) || text.slice(0, 200));
  return j;
}

// Like api() but a failure becomes {error} so one broken panel does not blank a page.
export async function tryApi(path, opt) {
  try { return await api(path, opt); } catch (e) { return { error: e.message, status: e.status }; }
}

export async function whoami() {
  session.me = await api('/api/v1/whoami');
  return session.me;
}

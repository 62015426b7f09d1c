// Sign-in: the token goes to session storage (gone when the tab closes) and
// is sent as a bearer header; the page shows who it belongs to.
import { h, put, field } from '../dom.js';
import { signIn } from '../app.js';

export const title = () => 'Sign in';

export function render(main, ctx) {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-h' },
    h('h1', { id: 'login-h', tabindex: '-1' }, 'Sign in to ooda'),
    h('p', { class: 'muted' }, 'Paste an API token (', h('code', {}, 'ooda token create'), '). It is kept in this tab only and sent as a bearer header.'),
    field('API token', input),
    h('button', { type: 'submit' }, 'Sign in'),
    msg);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    msg.textContent = '';
    const ok = await signIn(input.value.trim());
    if (!ok) { msg.textContent = 'That token was not accepted.'; input.focus(); return; }
    const next = ctx.query.get('next');
    location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/';
  });
  put(main, form);
  input.focus();
}

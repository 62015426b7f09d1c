// A tiny, safe Markdown subset for annotations and the postmortem draft:
// headings, paragraphs, lists, block quotes, fenced code, pipe tables and,
// inline, `code`, **bold**, *emphasis* and [links](https://…). It builds DOM
// nodes and puts every character of the source into text nodes; a link is
// made only for an http(s) address, and anything else stays as the text it
// was. No HTML from the source is ever parsed.
import { h } from './dom.js';

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\[[^\]\n]+\]\([^)\s]+\))|(\*[^*\n]+\*)/;

// Inline spans of one line of text: an array of nodes and strings.
export function inline(text) {
  const out = [];
  let rest = String(text);
  for (let guard = 0; rest && guard < 1000; guard++) {
    const m = rest.match(INLINE);
    if (!m) { out.push(rest); break; }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const tok = m[0];
    if (m[1]) out.push(h('code', {}, tok.slice(1, -1)));
    else if (m[2]) out.push(h('strong', {}, tok.slice(2, -2)));
    else if (m[4]) out.push(h('em', {}, tok.slice(1, -1)));
    else {
      const cut = tok.indexOf('](');
      const label = tok.slice(1, cut), url = tok.slice(cut + 2, -1);
      out.push(/^https?:\/\//i.test(url) ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, label) : tok);
    }
    rest = rest.slice(m.index + tok.length);
  }
  return out;
}

function cells(line) {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map(c => c.trim());
}

// A Markdown document as a <div class="md"> of block elements. Headings
// start at h3 so they sit below the page's own h1 and the card's h2.
export function markdown(src) {
  const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let para = [];
  const flush = () => { if (para.length) { blocks.push(h('p', {}, inline(para.join(' ')))); para = []; } };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if (/^```/.test(line)) {
      flush();
      const code = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) code.push(lines[i]);
      blocks.push(h('pre', { class: 'code' }, code.join('\n')));
    } else if ((m = line.match(/^(#{1,6})\s+(.*)$/))) {
      flush();
      blocks.push(h('h' + Math.min(3 + m[1].length - 1, 6), {}, inline(m[2])));
    } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d/.test(line);
      const items = [];
      for (; i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i]); i++) {
        const text = lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, '');
        const box = text.match(/^\[([ xX])\]\s+(.*)$/);
        items.push(h('li', {}, box ? [box[1] === ' ' ? '☐ ' : '☑ ', inline(box[2])] : inline(text)));
      }
      i--;
      blocks.push(h(ordered ? 'ol' : 'ul', {}, items));
    } else if (/^>/.test(line)) {
      flush();
      const q = [];
      for (; i < lines.length && /^>/.test(lines[i]); i++) q.push(lines[i].replace(/^>\s?/, ''));
      i--;
      blocks.push(h('blockquote', {}, inline(q.join(' '))));
    } else if (/^\s*\|.*\|\s*$/.test(line)) {
      flush();
      const rows = [];
      for (; i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i]); i++) rows.push(cells(lines[i]));
      i--;
      const body = rows.filter(r => !r.every(c => /^:?-+:?$/.test(c)));
      const head = body.shift() || [];
      blocks.push(h('div', { class: 'scroll' }, h('table', {},
        h('thead', {}, h('tr', {}, head.map(c => h('th', { scope: 'col' }, inline(c))))),
        h('tbody', {}, body.map(r => h('tr', {}, r.map(c => h('td', {}, inline(c)))))))));
    } else if (!line.trim()) {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return h('div', { class: 'md' }, blocks);
}

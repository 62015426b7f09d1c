// The dependency graph drawn as SVG by hand: services in layers by call depth
// (callers left of callees; top to bottom on a narrow screen), each edge
// coloured and labelled with its health from GET /api/v1/graph (ok, degraded,
// failing — the word is always written beside the colour, and the line style
// differs too), declared-but-silent edges dotted. A service node is a link to
// its page. Names and reasons from the server go into text nodes only.
import { h, fmtNum, fmtPct, table, badge } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const MAX_NODES = 120;
const NODE_W = 150, NODE_H = 42, GAP_LAYER = 190, GAP_ROW = 26;
const HEALTH = { ok: 'ok', degraded: 'warn', failing: 'bad', declared: 'muted' };
let seq = 0;

function s(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

// Traced edges plus the declared ones nothing traced: [{source, target, health, …}].
export function mergeEdges(g) {
  const edges = (g.edges || []).map(e => Object.assign({}, e));
  const seen = new Set(edges.map(e => e.source + '\u0000' + e.target));
  for (const d of g.declared_edges || []) {
    if (seen.has(d.source + '\u0000' + d.target)) continue;
    seen.add(d.source + '\u0000' + d.target);
    edges.push({ source: d.source, target: d.target, type: 'service', health: 'declared', health_reason: 'declared in ooda.yaml; no calls in the window' });
  }
  return edges;
}

// The text an edge shows beside its line: the health word, then the figure behind it.
export function edgeLabel(e) {
  if (e.health === 'declared') return ['declared', 'no calls'];
  const base = e.baseline || null;
  const detail = e.health === 'degraded' && /^p99/.test(e.health_reason || '') ? `p99 ${fmtNum(e.p99_ms, 0)} ms`
    : e.health === 'degraded' && /calls\/s/.test(e.health_reason || '') ? `${fmtNum(e.rate)}/s (was ${fmtNum(base && base.rate)}/s)`
      : `${fmtPct(e.error_ratio)} errors`;
  return [e.health || 'unknown', detail];
}

// Layers by call depth: longest path from the roots over the edges that are
// not back edges of a depth-first walk; ordered within a layer by the mean
// position of their neighbours (a few sweeps).
function layout(ids, edges, focus) {
  const out = new Map(ids.map(i => [i, []])), inc = new Map(ids.map(i => [i, []]));
  for (const e of edges) { out.get(e.source).push(e.target); inc.get(e.target).push(e.source); }
  const layer = new Map();
  if (focus) {
    for (const i of ids) layer.set(i, i === focus ? 1 : out.get(focus).includes(i) ? 2 : 0);
  } else {
    const state = new Map(), back = new Set();
    const roots = ids.filter(i => !inc.get(i).length).concat(ids.filter(i => inc.get(i).length));
    for (const r of roots) {
      if (state.has(r)) continue;
      // iterative depth-first walk, so a long chain cannot overflow the stack
      const stack = [[r, 0]];
      state.set(r, 1);
      while (stack.length) {
        const top = stack[stack.length - 1], u = top[0], next = out.get(u)[top[1]++];
        if (next === undefined) { state.set(u, 2); stack.pop(); continue; }
        if (state.get(next) === 1) back.add(u + '\u0000' + next);
        else if (!state.has(next)) { state.set(next, 1); stack.push([next, 0]); }
      }
    }
    const indeg = new Map(ids.map(i => [i, 0]));
    const fwd = edges.filter(e => !back.has(e.source + '\u0000' + e.target) && e.source !== e.target);
    for (const e of fwd) indeg.set(e.target, indeg.get(e.target) + 1);
    const queue = ids.filter(i => !indeg.get(i));
    for (const i of ids) layer.set(i, 0);
    const succ = new Map(ids.map(i => [i, []]));
    for (const e of fwd) succ.get(e.source).push(e.target);
    for (let q = 0; q < queue.length; q++) {
      const u = queue[q];
      for (const v of succ.get(u)) {
        layer.set(v, Math.max(layer.get(v), layer.get(u) + 1));
        indeg.set(v, indeg.get(v) - 1);
        if (!indeg.get(v)) queue.push(v);
      }
    }
  }
  const n = Math.max(0, ...layer.values()) + 1;
  const rows = Array.from({ length: n }, () => []);
  for (const i of [...ids].sort()) rows[layer.get(i)].push(i);
  const pos = new Map();
  const index = () => rows.forEach(r => r.forEach((id, k) => pos.set(id, k)));
  index();
  const mean = (list) => list.length ? list.reduce((a, x) => a + pos.get(x), 0) / list.length : null;
  for (let sweep = 0; sweep < 4; sweep++) {
    const order = sweep % 2 ? rows.slice().reverse() : rows;
    for (const r of order) {
      const key = new Map(r.map(id => [id, mean(sweep % 2 ? out.get(id) : inc.get(id))]));
      r.sort((a, b) => (key.get(a) ?? pos.get(a)) - (key.get(b) ?? pos.get(b)));
      index();
    }
  }
  return { layer, rows };
}

// Draws g (a GET /api/v1/graph answer) into a new element: with focus, only
// that service, its callers and its callees. Returns {el, edges} (edges:
// the ones drawn, for a text table beside it).
export function drawGraph(g, opt = {}) {
  const focus = opt.focus || null;
  let edges = mergeEdges(g);
  if (focus) edges = edges.filter(e => e.source === focus || e.target === focus);
  const types = new Map((g.nodes || []).map(n => [n.id, n]));
  const idSet = new Set();
  if (focus) idSet.add(focus);
  for (const e of edges) { idSet.add(e.source); idSet.add(e.target); }
  if (!focus) for (const n of g.nodes || []) idSet.add(n.id);
  let ids = [...idSet];
  let dropped = 0;
  if (ids.length > MAX_NODES) {
    // the busiest services, so a very large system still draws
    ids.sort((a, b) => ((types.get(b) || {}).requests || 0) - ((types.get(a) || {}).requests || 0));
    dropped = ids.length - MAX_NODES;
    ids = ids.slice(0, MAX_NODES);
    const keep = new Set(ids);
    edges = edges.filter(e => keep.has(e.source) && keep.has(e.target));
  }
  if (!ids.length) return { el: h('p', { class: 'muted' }, opt.empty || 'No calls between services seen yet.'), edges };

  const { layer, rows } = layout(ids, edges, focus);
  const vertical = !!opt.vertical;
  const depth = rows.length, breadth = Math.max(...rows.map(r => r.length));
  // horizontal: layers are columns; vertical: layers are rows
  const spanL = vertical ? NODE_H + 90 : NODE_W + GAP_LAYER;
  const spanR = vertical ? NODE_W + GAP_ROW : NODE_H + GAP_ROW;
  const W = vertical ? breadth * spanR : depth * spanL - GAP_LAYER + 20;
  const H = vertical ? depth * spanL - 90 + 20 : breadth * spanR;
  const at = new Map();
  rows.forEach((r, li) => r.forEach((id, k) => {
    const off = (breadth - r.length) * spanR / 2 + k * spanR;
    at.set(id, vertical ? { x: off + GAP_ROW / 2, y: 10 + li * spanL } : { x: 10 + li * spanL, y: off + GAP_ROW / 2 });
  }));

  // a service calling itself is in the table, not drawn: a loop on one box reads as noise
  const listed = edges;
  edges = edges.filter(e => e.source !== e.target);
  const fanIn = new Map(), fanOut = new Map();
  for (const e of edges) { fanIn.set(e.target, (fanIn.get(e.target) || 0) + 1); fanOut.set(e.source, (fanOut.get(e.source) || 0) + 1); }
  const anyBack = edges.some(e => layer.get(e.target) <= layer.get(e.source));
  const uid = 'g' + (++seq);
  const defs = s('defs', {}, Object.keys(HEALTH).map(k => s('marker', { id: `${uid}-${k}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
    s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow ' + HEALTH[k] }))));
  const edgeEls = edges.map(e => {
    const a = at.get(e.source), b = at.get(e.target);
    const health = HEALTH[e.health] ? e.health : 'declared';
    let x1, y1, x2, y2, d;
    const backward = layer.get(e.target) <= layer.get(e.source);
    if (vertical) {
      x1 = a.x + NODE_W / 2; y1 = a.y + NODE_H; x2 = b.x + NODE_W / 2; y2 = b.y;
      d = backward ? `M${a.x + NODE_W},${a.y + NODE_H / 2} C${a.x + NODE_W + 60},${a.y + NODE_H / 2} ${b.x + NODE_W + 60},${b.y + NODE_H / 2} ${b.x + NODE_W},${b.y + NODE_H / 2}`
        : `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`;
    } else {
      x1 = a.x + NODE_W; y1 = a.y + NODE_H / 2; x2 = b.x; y2 = b.y + NODE_H / 2;
      d = backward ? `M${a.x + NODE_W / 2},${a.y + NODE_H} C${a.x + NODE_W / 2},${a.y + NODE_H + 50} ${b.x + NODE_W / 2},${b.y + NODE_H + 50} ${b.x + NODE_W / 2},${b.y + NODE_H}`
        : `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`;
    }
    const [word, detail] = edgeLabel(e);
    // on the curve, nearer the end that has fewer edges, so labels of a fan do not pile up
    const t = fanIn.get(e.target) > fanOut.get(e.source) ? 0.3 : 0.7, w = t * t * (3 - 2 * t);
    const mx = backward ? (a.x + b.x + NODE_W) / 2 + (vertical ? NODE_W / 2 + 40 : 0) : vertical ? x1 + (x2 - x1) * w : x1 + (x2 - x1) * t;
    const my = backward ? (a.y + b.y) / 2 + (vertical ? 0 : NODE_H + 36) : vertical ? y1 + (y2 - y1) * t : y1 + (y2 - y1) * w;
    const text = `${e.source} → ${e.target}: ${e.health === 'declared' ? 'declared in ooda.yaml, no calls in the window' : `${e.health}, ${e.health_reason}; ${fmtNum(e.rate)} calls/s, ${fmtPct(e.error_ratio)} errors, p99 ${fmtNum(e.p99_ms)} ms`}`;
    return s('g', { class: `g-edge ${HEALTH[health]}`, 'data-source': e.source, 'data-target': e.target, 'data-health': e.health },
      s('title', {}, text),
      s('path', { d, class: 'line', 'marker-end': `url(#${uid}-${health})` }),
      s('text', { x: mx, y: my - 3, 'text-anchor': 'middle', class: 'label word' }, word),
      s('text', { x: mx, y: my + 11, 'text-anchor': 'middle', class: 'label' }, detail));
  });
  const nodeEls = ids.map(id => {
    const p = at.get(id), n = types.get(id) || { type: 'service' };
    const type = n.type || 'service';
    const sub = type !== 'service' ? type : n.rate !== undefined ? `${fmtNum(n.rate)}/s · ${fmtPct(n.error_ratio)} err` : 'no requests';
    // a long name is squeezed into the box rather than cut, so the link's text is the whole name
    const fit = id.length > 19 ? { textLength: NODE_W - 12, lengthAdjust: 'spacingAndGlyphs' } : {};
    const box = [
      s('title', {}, `${id} ${sub}`),
      s('rect', { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: type === 'service' ? 6 : 16, class: 'box' }),
      s('text', Object.assign({ x: p.x + NODE_W / 2, y: p.y + 17, 'text-anchor': 'middle', class: 'name' }, fit), id),
      s('text', { x: p.x + NODE_W / 2, y: p.y + 33, 'text-anchor': 'middle', class: 'sub' }, sub),
    ];
    const cls = `g-node ${type}${id === focus ? ' focus' : ''}`;
    return type === 'service' && id !== focus
      ? s('a', { href: '#/service/' + encodeURIComponent(id), class: cls, 'data-id': id }, box)
      : s('g', { class: cls, 'data-id': id }, box);
  });
  const label = opt.label || 'Dependency graph';
  const svg = s('svg', { viewBox: `0 0 ${W + (vertical && anyBack ? 110 : 0)} ${H + (!vertical && anyBack ? 60 : 0)}`, width: W + (vertical && anyBack ? 110 : 0), class: 'depgraph', role: 'group', 'aria-label': label, preserveAspectRatio: 'xMidYMin meet' },
    defs, s('g', {}, edgeEls), s('g', {}, nodeEls));
  const legend = h('p', { class: 'legend muted' }, 'Edges: ', badge('ok', 'ok'), ' within baseline · ', badge('degraded', 'warn'),
    ' errors, p99 or traffic off baseline · ', badge('failing', 'bad'), ' errors ≥ 5% · ', badge('declared'), ' declared, no calls',
    dropped ? ` · ${dropped} quieter services not drawn` : null);
  return { el: h('figure', { class: 'depgraph-box' }, svg, h('figcaption', { class: 'sr' }, label), legend), edges: listed };
}

// The drawn edges as a table (the graph's text equivalent).
export function edgeTable(edges, caption) {
  const svcLink = name => h('a', { href: '#/service/' + encodeURIComponent(name) }, name);
  const kind = { ok: 'ok', degraded: 'warn', failing: 'bad' };
  return table(caption, ['Caller', 'Callee', 'Health', 'Calls/s', 'Errors', 'p99', 'Baseline'],
    edges.map(e => [svcLink(e.source), e.type === 'service' ? svcLink(e.target) : `${e.target} (${e.type})`,
      h('span', {}, badge(e.health, kind[e.health] || ''), ' ', e.health_reason || ''),
      fmtNum(e.rate), fmtPct(e.error_ratio), e.p99_ms === undefined ? '–' : fmtNum(e.p99_ms) + ' ms',
      e.baseline ? `${fmtNum(e.baseline.rate)}/s, ${fmtPct(e.baseline.error_ratio)}, p99 ${fmtNum(e.baseline.p99_ms)} ms` : '–']),
    'No calls between services seen yet.');
}

// Charts: uPlot (bundled into the binary from npm at build time) for time
// series, with change events drawn as vertical markers on the time axis, and
// a tiny SVG sparkline for tiles. Colours come from the theme's CSS variables.
import uPlot from '../vendor/uplot.js';
import { h } from './dom.js';

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

const PALETTE = ['--c1', '--c2', '--c3', '--c4', '--c5'];

// lineChart(container, {title, times: [unix s], series: [{label, values}], markers: [{t, label}], unit, range: [start, end]})
// Draws into container and returns the uPlot instance (or null with no data).
export function lineChart(container, opt) {
  const times = opt.times || [];
  const series = opt.series || [];
  const desc = h('p', { class: 'sr' });
  const box = h('figure', { class: 'chart', role: 'group', 'aria-label': opt.title });
  box.appendChild(h('figcaption', {}, opt.title));
  container.appendChild(box);
  if (!times.length) {
    box.appendChild(h('p', { class: 'muted' }, 'No data in this window.'));
    return null;
  }
  const [lo, hi] = opt.range || [times[0], times[times.length - 1]];
  const markers = (opt.markers || []).filter(m => m.t >= lo && m.t <= hi);
  const width = Math.max(240, Math.min(box.clientWidth || container.clientWidth || 600, 1400));
  const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
  const u = new uPlot({
    width, height: opt.height || 180,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: opt.range ? { time: true, range: () => opt.range } : { time: true } },
    axes: [axis, Object.assign({ size: 70, values: (u, v) => v.map(x => fmtAxis(x, opt.unit)) }, axis)],
    series: [{}].concat(series.map((s, i) => ({ label: s.label, stroke: cssVar(PALETTE[i % PALETTE.length]), width: 1.5, spanGaps: true }))),
    hooks: { draw: [u => drawMarkers(u, markers)] },
  }, [times].concat(series.map(s => s.values)), box);
  const last = series.map(s => `${s.label} ${fmtAxis(s.values[s.values.length - 1], opt.unit)}`).join(', ');
  desc.textContent = `${opt.title}: ${times.length} points; latest ${last}.` +
    (markers.length ? ` Changes: ${markers.map(m => m.label).join('; ')}.` : '');
  box.appendChild(desc);
  if (markers.length) {
    box.appendChild(h('ul', { class: 'markers' }, markers.map(m =>
      h('li', {}, h('span', { class: 'mk', 'aria-hidden': 'true' }, '▲'), ' ', new Date(m.t * 1000).toLocaleTimeString(), ' ', m.label))));
  }
  return u;
}

function drawMarkers(u, markers) {
  if (!markers.length) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = cssVar('--warn');
  ctx.fillStyle = cssVar('--warn');
  ctx.lineWidth = 1.5;
  ctx.setLineDash([4, 3]);
  for (const m of markers) {
    const x = Math.round(u.valToPos(m.t, 'x', true));
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(x - 5, u.bbox.top);
    ctx.lineTo(x + 5, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + 7);
    ctx.fill();
  }
  ctx.restore();
}

function fmtAxis(x, unit) {
  if (x === null || x === undefined) return '–';
  const a = Math.abs(x);
  const s = a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(1) : a >= 0.01 ? x.toFixed(3) : x.toPrecision(2);
  return unit ? s + unit : s;
}

// A sparkline of values as an inline SVG (no data: a flat line).
export function sparkline(values, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 100 24');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const v = values.filter(x => x !== null && Number.isFinite(x));
  const max = Math.max(1e-9, ...v), min = Math.min(0, ...v);
  const pts = values.map((x, i) => {
    const px = values.length > 1 ? (i / (values.length - 1)) * 100 : 50;
    const py = 22 - ((Number.isFinite(x) ? x : 0) - min) / (max - min || 1) * 20;
    return px.toFixed(1) + ',' + py.toFixed(1);
  });
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', pts.length ? pts.join(' ') : '0,22 100,22');
  line.setAttribute('fill', 'none');
  line.setAttribute('class', 'spark-line');
  svg.appendChild(line);
  return svg;
}

// A Prometheus matrix result → {times, series} for lineChart; label picks a series name.
export function fromMatrix(result, label) {
  const ts = new Set();
  for (const r of result) for (const [t] of r.values) ts.add(t);
  const times = [...ts].sort((a, b) => a - b);
  const idx = new Map(times.map((t, i) => [t, i]));
  const series = result.slice(0, 5).map(r => {
    const values = new Array(times.length).fill(null);
    for (const [t, v] of r.values) values[idx.get(t)] = parseFloat(v);
    return { label: label(r.metric), values };
  });
  return { times, series };
}

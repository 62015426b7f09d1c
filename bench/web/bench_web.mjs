// Loads the dashboard's overview LOADS times, each in a fresh browser
// context (cold cache), and prints a table: compressed bytes of the assets
// (same-origin, not /api), their count, and the median and worst first
// contentful paint and time until the overview has rendered its data.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.WEB_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');
const URL = process.env.OODA_URL;
const LOADS = Number(process.env.LOADS || 10);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const fcp = [], ready = [];
let bytes = 0, assets = 0, raw = 0;
for (let i = 0; i < LOADS; i++) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const sizes = [];
  page.on('requestfinished', async req => {
    const u = new globalThis.URL(req.url());
    if (u.origin !== URL || u.pathname.startsWith('/api/')) return;
    const s = await req.sizes();
    const resp = await req.response();
    sizes.push([s.responseBodySize, Number((await resp.body()).length)]);
  });
  await page.goto(URL + '/#/');
  await page.waitForFunction(() => document.getElementById('main').dataset.ready === '/');
  const t = await page.evaluate(() => {
    const p = performance.getEntriesByName('first-contentful-paint')[0];
    return { fcp: p ? p.startTime : NaN, ready: performance.now() };
  });
  await page.waitForTimeout(100);
  fcp.push(t.fcp);
  ready.push(t.ready);
  if (i === 0) {
    assets = sizes.length;
    bytes = sizes.reduce((a, s) => a + s[0], 0);
    raw = sizes.reduce((a, s) => a + s[1], 0);
  }
  await ctx.close();
}
await browser.close();
const med = a => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const max = a => Math.max(...a);
console.log('| figure | value | target |\n|---|---|---|');
console.log(`| assets loaded by the overview | ${assets} files | |`);
console.log(`| page weight, compressed (gzip as sent) | ${(bytes / 1024).toFixed(1)} KB (${(raw / 1024).toFixed(1)} KB uncompressed) | < 300 KB |`);
console.log(`| first contentful paint, median / worst of ${LOADS} cold loads | ${med(fcp).toFixed(0)} ms / ${max(fcp).toFixed(0)} ms | < 1 s |`);
console.log(`| overview rendered with its data, median / worst | ${med(ready).toFixed(0)} ms / ${max(ready).toFixed(0)} ms | |`);

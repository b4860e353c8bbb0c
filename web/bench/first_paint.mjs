// First paint of the wall map in headless Chromium (Debian's, driven by playwright-core), for
// `scripts/bench wallmap`: RUNS loads of the page with an empty browser cache each, at
// 1920×1080, against a started gridmap. Per load, from navigation start, the page's User Timing
// marks: gridmap:map-load (MapLibre's first complete frame of the style and its tiles: the
// first map paint), gridmap:figures-ready (KPIs, card and charts filled) and gridmap:map-idle
// (everything of the home view drawn, event layers included); and the JavaScript the load
// transferred (compressed bytes, as sent). The first load meets the server's tile cache cold;
// the others warm. Prints a Markdown table and a RESULT line of JSON.
//
//   GRIDMAP_URL=http://127.0.0.1:PORT GRIDMAP_TOKEN=… [RUNS=5] node bench/first_paint.mjs

import { chromium } from 'playwright-core';

const base = process.env.GRIDMAP_URL;
const token = process.env.GRIDMAP_TOKEN;
const runs = Number(process.env.RUNS ?? 5);
if (!base || !token) throw new Error('GRIDMAP_URL and GRIDMAP_TOKEN must be set');
/** The goal of issue 15 for the first map paint, and for the JavaScript of first paint. */
const GOAL_MS = 2000;
const GOAL_JS_BYTES = 1.2e6;
const MARKS = ['gridmap:map-load', 'gridmap:figures-ready', 'gridmap:map-idle'];

async function load(browser) {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${base}/#token=${token}`);
    await page.waitForFunction((names) => names.every((n) => performance.getEntriesByName(n).length > 0), MARKS, { timeout: 120_000 });
    const measured = await page.evaluate((names) => {
        const at = Object.fromEntries(names.map((n) => [n, performance.getEntriesByName(n)[0].startTime]));
        const js = performance.getEntriesByType('resource')
            .filter((r) => /\.m?js(\?|$)/.test(r.name))
            .reduce((n, r) => n + r.transferSize, 0);
        return { at, js };
    }, MARKS);
    await context.close();
    if (errors.length) throw new Error(`the page logged errors: ${errors.join('; ')}`);
    return measured;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => x.toFixed(0);

const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-gl=swiftshader', '--enable-unsafe-swiftshader'],
});
try {
    const loads = [];
    for (let i = 0; i < runs; i += 1) loads.push(await load(browser));
    const warm = loads.slice(1);
    const of = (set, mark) => set.map((l) => l.at[mark]);
    console.log(`| load | first map paint ms | figures ready ms | all drawn ms | JS transferred KB |`);
    console.log(`|---|---:|---:|---:|---:|`);
    loads.forEach((l, i) => console.log(`| ${i === 0 ? 'first (server tile cache cold)' : `#${i + 1}`} | ${ms(l.at['gridmap:map-load'])} | ${ms(l.at['gridmap:figures-ready'])} | ${ms(l.at['gridmap:map-idle'])} | ${(l.js / 1024).toFixed(0)} |`));
    const paintWarm = median(of(warm.length ? warm : loads, 'gridmap:map-load'));
    const paintCold = loads[0].at['gridmap:map-load'];
    console.log(`\nfirst map paint: cold ${ms(paintCold)} ms, warm median ${ms(paintWarm)} ms (goal ≤ ${GOAL_MS} ms: ${Math.max(paintCold, paintWarm) <= GOAL_MS ? 'met' : 'NOT met'}); ` +
        `JS for first paint ${(loads[0].js / 1024).toFixed(0)} KB (goal ≤ ${GOAL_JS_BYTES / 1e6} MB: ${loads[0].js <= GOAL_JS_BYTES ? 'met' : 'NOT met'})`);
    console.log(`RESULT ${JSON.stringify({ paint_cold_ms: paintCold, paint_warm_ms: paintWarm, idle_warm_ms: median(of(warm.length ? warm : loads, 'gridmap:map-idle')), js_bytes: loads[0].js })}`);
} finally {
    await browser.close();
}

// The wall map in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
// against a started gridmap (run by tests/wall_map.rs, which passes the environment below):
// it loads with no console errors and no request beyond 127.0.0.1; the map paints; a click on
// a district opens its card with the API's figures; the search box finds a community and goes
// there; categories carry their names; the heatmap renders in square and H3 bins; the
// satellite layer comes through the service (never with the key in the page); an event posted
// through the API shows up without a reload, told by the live stream; the figures are not
// polled every 10 s any more; grid workers appear and move as fixes are posted, and one that
// stays out of its grid past the dwell time is ringed and listed as an alert, until it is back;
// a street-scoped token sees its street only, on the map and in the stream's frames.
// Screenshots go to GRIDMAP_ARTIFACTS. Exits non-zero with the failed check's message.
//
//   GRIDMAP_URL=http://127.0.0.1:PORT GRIDMAP_TOKEN=… GRIDMAP_STREET=410611001 \
//   GRIDMAP_STREET_TOKEN=… GRIDMAP_SATELLITE_KEY=… GRIDMAP_DWELL_S=300 GRIDMAP_ARTIFACTS=DIR \
//   node tests/wall_map.mjs

import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set (tests/wall_map.rs sets it)`);
    return v;
};
const base = env('GRIDMAP_URL');
const token = env('GRIDMAP_TOKEN');
const street = env('GRIDMAP_STREET');
const streetToken = env('GRIDMAP_STREET_TOKEN');
const artifacts = env('GRIDMAP_ARTIFACTS');
const satelliteKey = env('GRIDMAP_SATELLITE_KEY');
const dwellS = Number(env('GRIDMAP_DWELL_S'));
mkdirSync(artifacts, { recursive: true });

function check(ok, message) {
    if (!ok) throw new Error(`check failed: ${message}`);
    console.log(`ok: ${message}`);
}

async function api(path, credential = token, init = {}) {
    const response = await fetch(`${base}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${credential}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
}

/** Share of the pixels of a PNG that differ clearly from the background #0b1220. */
function paintedShare(png) {
    const image = PNG.sync.read(png);
    let painted = 0;
    for (let i = 0; i < image.data.length; i += 4) {
        const d = Math.abs(image.data[i] - 0x0b) + Math.abs(image.data[i + 1] - 0x12) + Math.abs(image.data[i + 2] - 0x20);
        if (d > 30) painted += 1;
    }
    return painted / (image.width * image.height);
}

/** Share of the pixels that differ between two PNGs of the same size. */
function changedShare(a, b) {
    const x = PNG.sync.read(a);
    const y = PNG.sync.read(b);
    let changed = 0;
    for (let i = 0; i < x.data.length; i += 4) {
        const d = Math.abs(x.data[i] - y.data[i]) + Math.abs(x.data[i + 1] - y.data[i + 1]) + Math.abs(x.data[i + 2] - y.data[i + 2]);
        if (d > 30) changed += 1;
    }
    return changed / (x.width * x.height);
}

const digits = (s) => s.replace(/[^0-9]/g, '');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Posts one fix of `worker` at `lon`, `lat`, taken `ago` seconds before now; checks it was stored. */
async function postFix(worker, lon, lat, ago = 0) {
    const at = new Date(Date.now() - ago * 1000).toISOString();
    const answer = await api('/api/fixes', token, {
        method: 'POST',
        body: JSON.stringify({ fixes: [{ worker, at, lon, lat, accuracy: 5, speed: 1.2, heading: 90 }] }),
    });
    if (answer.stored !== 1) throw new Error(`the fix of ${worker} was not stored: ${JSON.stringify(answer)}`);
}

/** The first `count` grid workers of `area` whose home `keep` lets through and whose home
 * grid's centre lies in the grid, with that centre and the grid's bounds. */
async function gridWorkers(area, count, keep = () => true) {
    const workers = await api(`/api/workers?area=${area}`);
    const found = [];
    for (const f of workers.features.filter((w) => w.properties.role === 'grid_worker' && keep(w.properties.home_code))) {
        const home = await api(`/api/areas/${f.properties.home_code}`);
        const [lon, lat] = home.properties.center ?? [];
        if (lon === undefined) continue;
        const chain = await api(`/api/lookup?lon=${lon}&lat=${lat}`);
        if (!chain.chain.some((a) => a.code === f.properties.home_code)) continue;
        found.push({ code: f.properties.code, home: f.properties.home_code, name: f.properties.name, lon, lat, bounds: bounds(home.geometry) });
        if (found.length === count) break;
    }
    return found;
}

/** The workers the page draws on its `workers` layers (`layer`), by code, with coordinates. */
async function drawnWorkers(page, layer = 'worker-points') {
    return page.evaluate((id) => Object.fromEntries(window.gridmap.map
        .queryRenderedFeatures({ layers: [id] })
        .map((f) => [f.properties.code, f.geometry.coordinates])), layer);
}

/** Waits until the page draws worker `code` within ~1 m of `lon`, `lat` on `layer`. */
async function waitDrawn(page, code, lon, lat, layer = 'worker-points', timeout = 15_000) {
    await page.waitForFunction(([c, x, y, id]) => window.gridmap.map
        .queryRenderedFeatures({ layers: [id] })
        .some((f) => f.properties.code === c && Math.abs(f.geometry.coordinates[0] - x) < 1e-5 && Math.abs(f.geometry.coordinates[1] - y) < 1e-5),
    [code, lon, lat, layer], { timeout });
}

/** Opens the wall map with `credential`; records console errors, foreign requests and the
 * live stream's frames. */
async function open(browser, credential) {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    const problems = [];
    const requested = [];
    const frames = [];
    page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
        if (typeof payload === 'string') frames.push(JSON.parse(payload));
    }));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
    page.on('request', (r) => {
        requested.push(r.url());
        if (r.url().includes(satelliteKey)) problems.push(`the satellite key in a request: ${r.url()}`);
        const url = new URL(r.url());
        if (!['data:', 'blob:'].includes(url.protocol) && url.hostname !== '127.0.0.1') {
            problems.push(`request beyond 127.0.0.1: ${r.url()}`);
        }
    });
    await page.goto(`${base}/#token=${credential}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    await idle(page);
    return { page, problems, requested, frames };
}

/** Waits until the map has drawn everything it asked for. */
async function idle(page) {
    await page.evaluate(() => new Promise((resolve) => {
        const map = window.gridmap.map;
        if (map.loaded() && map.areTilesLoaded()) resolve();
        else map.once('idle', resolve);
    }));
}

const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-gl=swiftshader', '--enable-unsafe-swiftshader'],
});
try {
    // 1. The city: loads clean, paints, KPIs equal the API.
    const { page, problems, requested, frames } = await open(browser, token);
    await page.evaluate(() => { window.notReloaded = true; });
    const city = await api('/api/stats/areas/410600?from=' + (await page.evaluate(() => window.gridmap.filters.from)));
    check(digits(await page.textContent('#kpi-residents')) === String(city.residents), 'the KPI header shows the city\'s residents');
    check(digits(await page.textContent('#kpi-open')) === String(city.events.open), 'the KPI header shows the open events of the window');
    await page.screenshot({ path: `${artifacts}/0-page.png` });
    const cityShot = await page.locator('#map').screenshot({ path: `${artifacts}/1-city.png` });
    const painted = paintedShare(cityShot);
    check(painted > 0.05, `the map paints beyond its background (${(painted * 100).toFixed(1)} % of its pixels)`);
    check((await page.locator('#chart-trend canvas').count()) > 0, 'the trend chart is drawn');

    // 2. Drill down: a click inside 淇滨区 opens its card with the API's figures.
    const district = await api('/api/areas/410611');
    const [lon, lat] = district.properties.center ?? [114.297, 35.748];
    const point = await page.evaluate(([x, y]) => window.gridmap.map.project([x, y]), [lon, lat]);
    const box = await page.locator('#map').boundingBox();
    const chain = await api(`/api/lookup?lon=${lon}&lat=${lat}`);
    const clicked = chain.chain.find((a) => a.level === 'district');
    await page.mouse.click(box.x + point.x, box.y + point.y);
    await page.waitForFunction((code) => window.gridmap.selected?.code === code && document.body.dataset.ready === '1', clicked.code, { timeout: 30_000 });
    await page.waitForFunction((name) => document.querySelector('#card-name').textContent === name, clicked.name);
    const stats = await api(`/api/stats/areas/${clicked.code}?from=${await page.evaluate(() => window.gridmap.filters.from)}`);
    check(digits(await page.textContent('#card-residents')) === String(stats.residents), `the card of ${clicked.name} shows its residents`);
    check(digits(await page.textContent('#card-households')) === String(stats.households), `the card of ${clicked.name} shows its households`);
    check(digits(await page.textContent('#card-open')) === String(stats.events.open), `the card of ${clicked.name} shows its open events`);
    check((await page.textContent('#breadcrumbs')).includes(clicked.name), 'the breadcrumbs name the district');
    await idle(page);
    await page.locator('#map').screenshot({ path: `${artifacts}/2-district.png` });

    // 3. The heatmap toggle renders (the event symbols hidden, so the heatmap alone changes).
    await page.uncheck('[data-group="events"]');
    await idle(page);
    const before = await page.locator('#map').screenshot();
    await page.check('#toggle-heatmap');
    await idle(page);
    const heat = await page.locator('#map').screenshot({ path: `${artifacts}/3-heatmap.png` });
    const visible = await page.evaluate(() => window.gridmap.map.getLayoutProperty('event-heatmap', 'visibility'));
    check(visible === 'visible', 'the heatmap layer is shown');
    const changed = changedShare(before, heat);
    check(changed > 0.02, `the heatmap changes the picture (${(changed * 100).toFixed(1)} % of the pixels)`);
    const h3Tiles = page.waitForResponse((r) => r.url().includes('/tiles/heatmap/') && r.url().includes('bin=h3') && r.status() === 200);
    await page.selectOption('#filter-bin', 'h3');
    await h3Tiles;
    await idle(page);
    const hex = await page.locator('#map').screenshot({ path: `${artifacts}/3-heatmap-h3.png` });
    const hexPainted = changedShare(before, hex);
    check(hexPainted > 0.02, `the H3 heatmap renders (${(hexPainted * 100).toFixed(1)} % of the pixels changed)`);
    const binsDiffer = changedShare(heat, hex);
    check(binsDiffer > 0.005, `the H3 bins differ from the square ones (${(binsDiffer * 100).toFixed(1)} % of the pixels)`);
    await page.selectOption('#filter-bin', 'square');
    await page.uncheck('#toggle-heatmap');
    await page.check('[data-group="events"]');

    // 3b. Categories carry the catalog's names.
    const catalog = await api('/api/events/categories');
    const named = catalog.categories.find((c) => c.code === '0101');
    const option = await page.textContent('#filter-category option[value="0101"]');
    check(option.includes(named.name), `the category filter names 0101 ${named.name}`);

    // 3c. The satellite layer comes through the service.
    check(await page.isVisible('#satellite-toggle'), 'the satellite toggle is offered (a [satellite] key is configured)');
    const satelliteTile = page.waitForResponse((r) => r.url().includes('/rasters/satellite/') && r.status() === 200);
    await page.check('[data-group="satellite"]');
    await satelliteTile;
    await idle(page);
    await page.locator('#map').screenshot({ path: `${artifacts}/3-satellite.png` });
    check(requested.some((u) => u.startsWith(`${base}/rasters/satellite/`)), 'satellite tiles are fetched from the service');
    await page.uncheck('[data-group="satellite"]');

    // 3d. The search box finds a community by name and goes there, with its breadcrumbs.
    const communities = await api('/api/areas/410611001/children');
    const community = communities.features.find((f) => f.properties.level === 'community').properties;
    await page.fill('#search-input', community.name);
    await page.waitForSelector(`#search-results li[data-code="${community.code}"]`, { timeout: 10_000 });
    await page.screenshot({ path: `${artifacts}/3-search.png` });
    await page.click(`#search-results li[data-code="${community.code}"]`);
    await page.waitForFunction((code) => window.gridmap.selected?.code === code && document.body.dataset.ready === '1', community.code, { timeout: 30_000 });
    const crumbs = await page.evaluate(() => window.gridmap.chain.map((a) => a.code));
    check(crumbs.join() === ['410600', '410611', '410611001', community.code].join(), `the search went to ${community.name} with its breadcrumbs (${crumbs.join(' › ')})`);
    await page.waitForFunction((name) => document.querySelector('#card-name').textContent === name, community.name);
    check(true, `the card shows ${community.name}`);
    await page.click('#breadcrumbs a[data-code="410611"]');
    await page.waitForFunction(() => window.gridmap.selected?.code === '410611' && document.body.dataset.ready === '1', null, { timeout: 30_000 });

    // 4. A new event posted through the API appears without a reload: the live stream tells
    // the page, which comes to show the district's new count of today's events within seconds
    // (the safety poll runs once a minute).
    const selected = await page.evaluate(() => window.gridmap.selected.code);
    const today = new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
    const todayOf = async () => (await api(`/api/stats/areas/${selected}?from=${today}`)).events.total;
    const todayBefore = await todayOf();
    const tilesBefore = await page.evaluate(() => window.gridmap.tileVersion);
    const posted = await api('/api/events', token, {
        method: 'POST',
        body: JSON.stringify({ external_id: `wall-map-${Date.now()}`, source: 'app', category: '0101', title: '大屏测试事件', lon, lat }),
    });
    const todayAfter = await todayOf();
    check(todayAfter === todayBefore + 1, `the posted event counts for ${selected} today (${todayBefore} → ${todayAfter})`);
    await page.waitForFunction((n) => Number(document.querySelector('#kpi-today').textContent.replace(/[^0-9]/g, '')) === n, todayAfter, { timeout: 10_000 });
    check(true, `the page shows today's new count, ${todayAfter}, without a reload`);
    check(frames.some((f) => f.type === 'event' && f.event.code === posted.code), `the live stream told the page of event ${posted.code}`);
    check(await page.evaluate((v) => window.gridmap.tileVersion > v, tilesBefore), 'the event tiles were fetched again');

    // 4b. No 10 s poll: while no event happens (workers move meanwhile), no statistics are fetched.
    const quietFrom = requested.length;
    const quietStart = Date.now();

    // 4c. Workers: the district's as the API lists them; a posted fix puts one on the map and
    // moves it.
    const listed = await api(`/api/workers?area=${selected}`);
    await page.waitForFunction((n) => window.gridmap.workers.byCode.size === n, listed.features.length, { timeout: 15_000 });
    check(true, `the page follows the ${listed.features.length} workers of ${selected}`);
    const [mover, stray, elsewhere] = await gridWorkers(selected, 3, (home) => !home.startsWith(street));
    check(elsewhere !== undefined, `three grid workers of ${selected} outside ${street} to move (${mover?.code}, ${stray?.code}, ${elsewhere?.code})`);
    await postFix(mover.code, mover.lon, mover.lat, 60);
    await page.evaluate(([x, y]) => window.gridmap.map.jumpTo({ center: [x, y], zoom: 16 }), [mover.lon, mover.lat]);
    await waitDrawn(page, mover.code, mover.lon, mover.lat);
    const shown = await page.evaluate((c) => window.gridmap.workers.byCode.get(c).properties, mover.code);
    check(shown.status === 'online' && shown.grid === mover.home, `${mover.name} (${mover.code}) appears online in ${shown.grid}`);
    const north = mover.lat + 0.0004;
    await postFix(mover.code, mover.lon, north);
    await waitDrawn(page, mover.code, mover.lon, north);
    check(true, `${mover.code} moves about 45 m north on the map when its next fix comes`);
    await idle(page);
    await page.locator('#map').screenshot({ path: `${artifacts}/4-workers.png` });
    const at = await page.evaluate(([x, y]) => window.gridmap.map.project([x, y]), [mover.lon, north]);
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await page.waitForSelector('.worker-popup');
    const popup = await page.textContent('.worker-popup');
    check(popup.includes(mover.name) && popup.includes('网格员') && popup.includes('在线') && popup.includes(mover.home), `a click shows its popup (${popup})`);
    await page.click('.maplibregl-popup-close-button');

    // 4d. Out of its grid past the dwell time: a worker last seen outside (dwell − 15 s ago)
    // is alerted by the board's clock, ringed and listed; its next fix inside clears it.
    const alertsBefore = Number(digits(await page.textContent('#kpi-alerts')));
    const away = { lon: stray.bounds[1][0] + 0.004, lat: (stray.bounds[0][1] + stray.bounds[1][1]) / 2 };
    await postFix(stray.code, away.lon, away.lat, dwellS - 15);
    await page.evaluate(([x, y]) => window.gridmap.map.jumpTo({ center: [x, y], zoom: 15 }), [away.lon, away.lat]);
    await waitDrawn(page, stray.code, away.lon, away.lat);
    check(!(stray.code in await drawnWorkers(page, 'worker-alert-ring')), `${stray.code}, outside its grid, is not alerted before the dwell time`);
    await waitDrawn(page, stray.code, away.lon, away.lat, 'worker-alert-ring', 30_000);
    check(digits(await page.textContent('#kpi-alerts')) === String(alertsBefore + 1), `the header counts the alert (${alertsBefore} → ${alertsBefore + 1})`);
    check(await page.isVisible(`#alert-list li[data-worker="${stray.code}"]`), 'the alert panel lists it');
    const openAlerts = await api(`/api/workers/alerts?area=${selected}&open=true`);
    check(openAlerts.alerts.some((a) => a.worker === stray.code), 'the API has the alert open');
    await idle(page);
    await page.locator('#map').screenshot({ path: `${artifacts}/4-workers-alert.png` });
    await postFix(stray.code, stray.lon, stray.lat);
    await page.waitForFunction(([c, n]) => !window.gridmap.workers.alerts.has(c) && document.querySelector('#kpi-alerts').textContent === String(n), [stray.code, alertsBefore], { timeout: 15_000 });
    await idle(page);
    check(!(stray.code in await drawnWorkers(page, 'worker-alert-ring')), `back in its grid, ${stray.code} is no longer ringed`);

    await sleep(Math.max(0, 12_000 - (Date.now() - quietStart)));
    const polled = requested.slice(quietFrom).filter((u) => u.includes('/api/stats/'));
    check(polled.length === 0, `no statistics fetched in ${((Date.now() - quietStart) / 1000).toFixed(0)} s without events (${polled.length})`);
    check(await page.evaluate(() => window.notReloaded === true), 'the page was never reloaded');
    check(problems.length === 0, `no console errors and no request beyond 127.0.0.1 (${problems.join('; ')})`);
    await page.close();

    // 5. A street-scoped token sees its street only, on the map and in the live stream.
    const scoped = await open(browser, streetToken);
    const [inStreet] = await gridWorkers(street, 1);
    await postFix(elsewhere.code, elsewhere.lon, elsewhere.lat);
    await postFix(inStreet.code, inStreet.lon, inStreet.lat);
    await waitDrawn(scoped.page, inStreet.code, inStreet.lon, inStreet.lat);
    check(scoped.frames.some((f) => f.type === 'fix' && f.worker.id === inStreet.code), `the street's page is told of ${inStreet.code}'s fix`);
    const homes = scoped.frames.flatMap((f) => [
        ...(f.type === 'snapshot' ? f.workers.features.map((w) => w.properties.home_code) : []),
        ...(f.type === 'snapshot' ? f.alerts.map((a) => a.home_code) : []),
        ...(['fix', 'status'].includes(f.type) ? [f.worker.properties.home_code] : []),
        ...(f.type === 'alert' ? [f.alert.home_code] : []),
        ...(f.type === 'event' ? [f.event.area_code ?? ''] : []),
    ]);
    const foreign = homes.filter((h) => !h.startsWith(street));
    check(homes.length > 0 && foreign.length === 0, `every worker, alert and event in the street's frames is of ${street} (${homes.length} seen, ${elsewhere.code} of ${elsewhere.home} not among them)`);
    check(await scoped.page.evaluate((s) => [...window.gridmap.workers.byCode.values()].every((w) => w.properties.home_code.startsWith(s)), street), 'the street\'s page holds its own workers only');
    const streetStats = await api(`/api/stats/areas/${street}?from=${await scoped.page.evaluate(() => window.gridmap.filters.from)}`, streetToken);
    check(digits(await scoped.page.textContent('#kpi-residents')) === String(streetStats.residents), 'the street token\'s KPIs are its street\'s');
    check((await scoped.page.evaluate(() => window.gridmap.chain.map((a) => a.code))).join() === street, 'the breadcrumbs start at the street');
    const streetArea = await api(`/api/areas/${street}`, streetToken);
    await scoped.page.evaluate(() => window.gridmap.map.setZoom(14));
    await idle(scoped.page);
    await scoped.page.locator('#map').screenshot({ path: `${artifacts}/4-street.png` });
    const points = await scoped.page.evaluate(() => window.gridmap.map
        .queryRenderedFeatures({ layers: ['event-points', 'event-clusters'] })
        .map((f) => f.geometry.coordinates));
    const [[w, s], [e, n]] = bounds(streetArea.geometry);
    const margin = 0.01;
    const outside = points.filter(([x, y]) => x < w - margin || x > e + margin || y < s - margin || y > n + margin);
    check(outside.length === 0, `every event drawn for the street token lies in its street (${points.length} drawn)`);
    await scoped.page.fill('#search-input', '410602');
    await scoped.page.waitForSelector('#search-results:not([hidden])');
    check((await scoped.page.locator('#search-results li[data-code]').count()) === 0, 'the search finds no area of another district for the street token');
    check(scoped.problems.length === 0, `no console errors (${scoped.problems.join('; ')})`);
} finally {
    await browser.close();
}

function bounds(geometry) {
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    const visit = (c) => {
        if (typeof c[0] === 'number') {
            w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
        } else c.forEach(visit);
    };
    visit(geometry.coordinates);
    return [[w, s], [e, n]];
}

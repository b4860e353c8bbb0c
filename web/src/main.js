// The command-center wall map (指挥中心大屏): the city map with its layers, the KPI header,
// drill-down from the city to a grid with breadcrumbs and the area card, event details, the
// charts, and the grid workers moving live — kept current by the live stream without a reload.

import { Api, ApiError } from './api.js';
import { credential, forget, remember } from './auth.js';
import { Charts } from './charts.js';
import { LiveStream } from './live.js';
import { createMap, geometryBounds, setEventFilters, showGroup, STATUS_NAMES } from './map.js';
import { Workers } from './workers.js';

// When the figures are fetched again. The live stream tells of every event reported or moved
// in the selected area, so the figures (and the event tiles) follow the events, at most once
// per EVENT_PAUSE_MS however many come. Some figures change with time alone (an event becomes
// overdue as its deadline passes, "today" starts at midnight) and events can be missed while
// the stream reconnects (the page then fetches at once), so figures older than SAFETY_POLL_S
// are fetched again: a slow poll that costs a wall of many screens little, where the former
// 10 s poll fetched four statistics per screen whether anything had happened or not.
const EVENT_PAUSE_MS = 1500;
const SAFETY_POLL_S = 60;
/** Milliseconds of typing pause before the search box asks the service. */
const SEARCH_PAUSE_MS = 200;
/** The levels of the base layer, top down, as the breadcrumbs name them. */
const LEVEL_NAMES = { city: '市', district: '区', street: '街道', community: '社区', grid: '网格', microgrid: '微网格' };
const LEVELS = ['city', 'district', 'street', 'community', 'grid', 'microgrid'];

const $ = (id) => document.getElementById(id);

/** The China Standard Time day (YYYY-MM-DD) `daysAgo` days before today. */
function chinaDay(daysAgo = 0) {
    return new Date(Date.now() + 8 * 3600e3 - daysAgo * 86400e3).toISOString().slice(0, 10);
}

function number(n) {
    return n === null || n === undefined ? '–' : Number(n).toLocaleString('zh-CN');
}

function percent(r) {
    return r === null || r === undefined ? '–' : `${(r * 100).toFixed(1)}%`;
}

function text(el, value) {
    el.textContent = value ?? '';
    return el;
}

/** The jurisdiction a token names (its `scope` claim), read without checking: the service checks. */
function tokenScope(token) {
    try {
        const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
        return JSON.parse(atob(payload)).scope ?? null;
    } catch {
        return null;
    }
}

/** Shows a message in the corner for a while. */
function toast(message) {
    const el = text($('toast'), message);
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, 6000);
}

class WallMap {
    constructor(api, map, charts, home, categoryNames) {
        this.api = api;
        this.map = map;
        this.charts = charts;
        this.home = home;
        this.categoryNames = categoryNames;
        this.hits = [];
        this.chain = [];
        this.selected = null;
        this.children = [];
        this.filters = { days: 30, from: chinaDay(29), category: '', bin: 'square' };
        this.tileVersion = 0;
        this.lastTotals = null;
        this.workers = new Workers(map);
        /** The live stream (set by `run`) and the area its latest subscription is for. */
        this.live = null;
        this.liveArea = null;
    }

    /** Selects the area `code`: breadcrumbs, outline, card, figures and charts; the map flies
     * to it (or jumps, without `animate`). */
    async select(code, animate = true) {
        // Not ready until the figures of the new selection are shown (the tests wait on it).
        document.body.dataset.ready = '0';
        const area = await this.api.get(`/api/areas/${encodeURIComponent(code)}`);
        const props = area.properties;
        this.selected = { code, level: props.level, name: props.name, feature: area };
        this.live?.follow(code);
        const at = this.chain.findIndex((a) => a.code === code);
        if (at >= 0) {
            this.chain = this.chain.slice(0, at + 1);
        } else {
            const parentAt = this.chain.findIndex((a) => a.code === props.parent_code);
            this.chain = parentAt >= 0 ? this.chain.slice(0, parentAt + 1) : [];
            this.chain.push({ code, name: props.name, level: props.level });
        }
        this.renderBreadcrumbs();
        this.map.getSource('selected').setData({ type: 'FeatureCollection', features: [area] });
        if (area.geometry) {
            const duration = animate ? 1200 : 0;
            this.map.fitBounds(geometryBounds(area.geometry), { padding: 60, maxZoom: 16, duration });
        }
        await this.refresh();
    }

    renderBreadcrumbs() {
        const nav = $('breadcrumbs');
        nav.replaceChildren();
        this.chain.forEach((a, i) => {
            if (i > 0) nav.append(text(document.createElement('span'), ' › '));
            const link = text(document.createElement('a'), `${a.name}`);
            link.href = '#';
            link.title = `${LEVEL_NAMES[a.level] ?? a.level} ${a.code}`;
            link.dataset.code = a.code;
            link.addEventListener('click', (e) => {
                e.preventDefault();
                this.select(a.code).catch((err) => toast(err.message));
            });
            nav.append(link);
        });
    }

    /** Fetches and shows the figures of the selected area; the event tiles are fetched again
     * when asked (`tiles`) or when the totals changed. The safety poll starts over. */
    async refresh({ tiles = false } = {}) {
        try {
            await this.fetchFigures(tiles);
        } finally {
            clearTimeout(this.poll);
            this.poll = setTimeout(() => this.refresh().catch((err) => toast(err.message)), SAFETY_POLL_S * 1000);
        }
    }

    async fetchFigures(tiles) {
        if (!this.selected) return;
        const code = this.selected.code;
        const range = { from: this.filters.from };
        const [stats, today, children, series] = await Promise.all([
            this.api.get(`/api/stats/areas/${code}`, range),
            this.api.get(`/api/stats/areas/${code}`, { from: chinaDay(0) }),
            this.api.get(`/api/stats/areas/${code}/children`, range),
            this.api.get('/api/stats/timeseries', { area: code, interval: 'day', from: this.filters.from }),
        ]);
        // Another area was selected meanwhile: its own refresh shows its figures.
        if (this.selected?.code !== code) return;
        this.children = children.children;
        this.renderKpis(stats, today);
        this.renderCard(stats);
        this.charts.showTrend(series.points);
        this.charts.showCategories(stats.events?.by_category ?? {}, this.categoryNames);
        this.charts.showRanking(children.children);
        this.fillCategories(stats.events?.by_category ?? {});
        const totals = `${stats.events?.total}|${today.events?.total}|${stats.events?.open}`;
        if (tiles || (this.lastTotals !== null && totals !== this.lastTotals)) this.reloadEventTiles();
        this.lastTotals = totals;
        document.body.dataset.ready = '1';
    }

    renderKpis(stats, today) {
        text($('kpi-residents'), number(stats.residents));
        text($('kpi-households'), number(stats.households));
        text($('kpi-buildings'), number(stats.buildings));
        text($('kpi-today'), number(today.events?.total));
        text($('kpi-open'), number(stats.events?.open));
        text($('kpi-overdue'), number(stats.events?.overdue));
        text($('kpi-closure'), percent(stats.events?.closure_rate));
        text($('title'), `${this.home.name} 网格化服务管理指挥中心`);
    }

    renderCard(stats) {
        const p = this.selected.feature.properties;
        text($('card-name'), p.name);
        text($('card-code'), `${LEVEL_NAMES[p.level] ?? p.level} · ${p.code}`);
        text($('card-leader'), p.leader_name ?? '–');
        text($('card-phone'), p.leader_phone ?? '–');
        text($('card-center'), p.center ? `${p.center[0].toFixed(5)}, ${p.center[1].toFixed(5)}` : '–');
        text($('card-residents'), number(stats.residents));
        text($('card-households'), number(stats.households));
        text($('card-buildings'), number(stats.buildings));
        text($('card-open'), number(stats.events?.open));
        text($('card-overdue'), number(stats.events?.overdue));
    }

    fillCategories(byCategory) {
        const select = $('filter-category');
        const known = new Set([...select.options].map((o) => o.value));
        for (const c of Object.keys(byCategory).sort()) {
            if (!known.has(c)) select.append(new Option(this.categoryName(c), c));
        }
    }

    /** "0102 井盖缺失", or the code alone when the catalog has no name for it. */
    categoryName(code) {
        const name = this.categoryNames.get(code);
        return name ? `${code} ${name}` : code;
    }

    /** Refetches the event and heatmap tiles (new events, or other filters). */
    reloadEventTiles() {
        this.tileVersion += 1;
        setEventFilters(this.map, this.filters, this.tileVersion);
    }

    /** A message of the live stream (see live.js). Worker messages of another area than the
     * selected one belong to a subscription being replaced: its snapshot follows. */
    onLive(message) {
        const following = this.liveArea === this.selected?.code;
        switch (message.type) {
        case 'subscribed':
            this.liveArea = message.area;
            break;
        case 'snapshot':
            if (following) this.workers.reset(message.workers, message.alerts);
            break;
        case 'fix':
        case 'status':
            if (following) this.workers.update(message.worker);
            break;
        case 'alert':
            if (following) this.workers.alert(message.alert);
            break;
        case 'event':
            this.eventsChanged();
            break;
        case 'error':
            toast(`实时数据：${message.message}`);
            break;
        default: // heartbeat; lagged (the stream asks for a snapshot itself)
        }
    }

    /** The stream opened (`again`: after a break, when events may have been missed) or closed. */
    liveState(open, again = false) {
        document.body.dataset.live = open ? 'open' : 'closed';
        text($('live-state'), open ? '实时' : '重新连接中…');
        if (again) this.refresh({ tiles: true }).catch((err) => toast(err.message));
    }

    /** Events changed in the selected area: figures and event tiles again, at most once per
     * EVENT_PAUSE_MS. */
    eventsChanged() {
        if (this.eventTimer) return;
        this.eventTimer = setTimeout(() => {
            this.eventTimer = null;
            this.refresh({ tiles: true }).catch((err) => toast(err.message));
        }, EVENT_PAUSE_MS);
    }

    /** A click on the map: a worker's popup, an event's details, else the next area down under
     * the point. */
    async click(e) {
        const worker = this.map.queryRenderedFeatures(e.point, { layers: ['worker-points'] });
        if (worker.length > 0) {
            this.workers.popup(worker[0].properties.code);
            return;
        }
        const hits = this.map.queryRenderedFeatures(e.point, { layers: ['event-points'] });
        if (hits.length > 0) {
            await this.showEvent(hits[0].properties.code);
            return;
        }
        const [lon, lat] = [e.lngLat.lng, e.lngLat.lat];
        const found = await this.api.get('/api/lookup', { lon, lat });
        const chain = [...found.chain].reverse();
        const depth = LEVELS.indexOf(this.selected?.level ?? 'city');
        const next = chain.find((a) => LEVELS.indexOf(a.level) === depth + 1) ?? chain[chain.length - 1];
        if (!next) {
            toast('此处不在任何网格内');
            return;
        }
        // The areas between the selection and the next one join the breadcrumbs.
        const inside = chain.filter((a) => LEVELS.indexOf(a.level) <= LEVELS.indexOf(next.level));
        const keep = this.chain.filter((a) => inside.some((c) => c.code === a.code));
        this.chain = [...keep, ...inside.filter((a) => !keep.some((k) => k.code === a.code) && a.code !== next.code)];
        await this.select(next.code);
    }

    async showEvent(code) {
        const e = await this.api.get(`/api/events/${encodeURIComponent(code)}`);
        text($('event-title'), e.title);
        text($('event-meta'), `${e.code} · ${this.categoryName(e.category)} · ${STATUS_NAMES[e.status] ?? e.status}${e.overdue ? ' · 超期' : ''}`);
        text($('event-place'), [e.place.address, e.place.chain?.map((a) => a.name).reverse().join(' › ')].filter(Boolean).join(' · '));
        const list = $('event-timeline');
        list.replaceChildren(...e.timeline.map((s) => {
            const li = document.createElement('li');
            const when = new Date(s.at).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai' });
            text(li, `${when} ${STATUS_NAMES[s.to] ?? s.to}${s.department ? ` · ${s.department}` : ''}${s.note ? ` · ${s.note}` : ''}`);
            return li;
        }));
        $('event-panel').hidden = false;
    }

    /** Lists the areas of the jurisdiction matching `query` (a name or the start of a code)
     * under the search box. */
    async search(query) {
        const q = query.trim();
        const list = $('search-results');
        if (!q) {
            this.hits = [];
            list.hidden = true;
            return;
        }
        const found = await this.api.get('/api/areas', { q, limit: 10 });
        if ($('search-input').value.trim() !== q) return;
        this.hits = found.areas;
        list.replaceChildren(...(this.hits.length ? this.hits.map((hit) => this.searchItem(hit)) : [text(document.createElement('li'), `没有找到“${q}”`)]));
        list.hidden = false;
    }

    searchItem(hit) {
        const li = document.createElement('li');
        li.setAttribute('role', 'option');
        li.dataset.code = hit.code;
        const path = hit.path.map((a) => a.name).join(' › ');
        li.append(text(document.createElement('b'), hit.name), text(document.createElement('small'), ` ${LEVEL_NAMES[hit.level] ?? hit.level} · ${path}`));
        li.addEventListener('mousedown', (e) => {
            e.preventDefault();
            this.pick(hit).catch((err) => toast(err.message));
        });
        return li;
    }

    /** Goes to a search hit: its ancestors within the jurisdiction become the breadcrumbs. */
    async pick(hit) {
        $('search-results').hidden = true;
        $('search-input').value = hit.name;
        const from = hit.path.findIndex((a) => a.code === this.home.code);
        this.chain = from >= 0 ? hit.path.slice(from).map((a) => ({ code: a.code, name: a.name, level: a.level })) : [];
        await this.select(hit.code);
    }

    /** Wires the layer panel, the filters, the search box and the panels' buttons. */
    bindControls() {
        for (const box of document.querySelectorAll('[data-group]')) {
            showGroup(this.map, box.dataset.group, box.checked);
            box.addEventListener('change', () => showGroup(this.map, box.dataset.group, box.checked));
        }
        $('pitch').addEventListener('click', () => {
            const flat = this.map.getPitch() < 10;
            this.map.easeTo({ pitch: flat ? 60 : 0, duration: 800 });
        });
        const slider = $('filter-window');
        slider.addEventListener('input', () => {
            this.filters.days = Number(slider.value);
            this.filters.from = chinaDay(this.filters.days - 1);
            text($('filter-window-label'), `近 ${this.filters.days} 天`);
        });
        slider.addEventListener('change', () => this.update());
        $('filter-category').addEventListener('change', (e) => {
            this.filters.category = e.target.value;
            this.update();
        });
        $('filter-bin').addEventListener('change', (e) => {
            this.filters.bin = e.target.value;
            this.reloadEventTiles();
        });
        const input = $('search-input');
        input.addEventListener('input', () => {
            clearTimeout(this.searchTimer);
            this.searchTimer = setTimeout(() => this.search(input.value).catch((err) => toast(err.message)), SEARCH_PAUSE_MS);
        });
        input.addEventListener('blur', () => { $('search-results').hidden = true; });
        $('search').addEventListener('submit', (e) => {
            e.preventDefault();
            clearTimeout(this.searchTimer);
            this.search(input.value)
                .then(() => (this.hits.length ? this.pick(this.hits[0]) : undefined))
                .catch((err) => toast(err.message));
        });
        $('satellite-toggle').hidden = !this.map.getLayer('satellite');
        $('event-close').addEventListener('click', () => { $('event-panel').hidden = true; });
        this.map.on('click', (e) => this.click(e).catch((err) => toast(err.message)));
        for (const layer of ['worker-points', 'event-points', 'grid-fill']) {
            this.map.on('mouseenter', layer, () => { this.map.getCanvas().style.cursor = 'pointer'; });
            this.map.on('mouseleave', layer, () => { this.map.getCanvas().style.cursor = ''; });
        }
    }

    update() {
        this.reloadEventTiles();
        this.refresh().catch((err) => toast(err.message));
    }
}

async function start() {
    let message = null;
    for (;;) {
        const cred = await credential(message);
        const api = new Api(cred);
        try {
            const home = cred.token ? tokenScope(cred.token) : null;
            if (!home) throw new ApiError(401, 'no_scope', '地图数据需要令牌（token）；API 密钥只能查看瓦片');
            const area = await api.get(`/api/areas/${home}`);
            remember(cred);
            await run(api, { code: home, name: area.properties.name });
            return;
        } catch (e) {
            if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) throw e;
            forget();
            message = `登录失败：${e.message}`;
        }
    }
}

async function run(api, home) {
    const charts = new Charts($('chart-trend'), $('chart-pie'), $('chart-ranking'));
    const filters = { from: chinaDay(29), category: '', bin: 'square' };
    const [map, catalog] = await Promise.all([
        createMap($('map'), api, filters),
        api.get('/api/events/categories'),
    ]);
    const names = new Map(catalog.categories.map((c) => [c.code, c.name]));
    const wall = new WallMap(api, map, charts, home, names);
    window.gridmap = wall;
    wall.bindControls();
    wall.live = new LiveStream(api.credential.token, {
        message: (m) => wall.onLive(m),
        open: (again) => wall.liveState(true, again),
        close: () => wall.liveState(false),
    });
    await wall.select(home.code, false);
    // User Timing marks of the start-up (read by web/bench/first_paint.mjs and devtools).
    performance.mark('gridmap:figures-ready');
    const drawn = () => performance.mark('gridmap:map-idle');
    if (map.loaded() && map.areTilesLoaded()) drawn();
    else map.once('idle', drawn);
}

start().catch((e) => {
    console.error(e);
    toast(`地图无法启动：${e.message}`);
});

// The grid workers of the followed area, as the live stream tells of them: each at its latest
// fix on the map (layers in map.js), the header's online and out-of-grid (越界) counts, the
// side panel's list of open alerts, and a worker's popup. A snapshot replaces everything; a
// fix or status message replaces one worker unless it is older than what is shown (a message
// of a batch published before the snapshot can arrive after it); alert messages open and
// close alerts.

import { Popup } from 'maplibre-gl';

/** Roles as the command center says them. */
export const ROLE_NAMES = {
    grid_leader: '网格长',
    grid_worker: '网格员',
    full_time: '专职网格员',
    police: '民警',
    urban_management: '城管队员',
    fire_safety: '消防网格员',
};

const $ = (id) => document.getElementById(id);

/** An element with text (and a class). */
function element(tag, content, className) {
    const el = document.createElement(tag);
    el.textContent = content ?? '';
    if (className) el.className = className;
    return el;
}

/** An instant in China Standard Time, as the page shows times. */
export function chinaTime(iso) {
    return iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai' }) : '–';
}

const instant = (iso) => (iso ? Date.parse(iso) : -Infinity);

/** The workers shown on `map` (its `workers` source) and in the panels. */
export class Workers {
    constructor(map) {
        this.map = map;
        /** Worker code → its Feature, as the stream last gave it. */
        this.byCode = new Map();
        /** Worker code → its open out-of-grid alert. */
        this.alerts = new Map();
        this.drawing = false;
    }

    /** Starts again from a snapshot: `workers` (a FeatureCollection) and the open `alerts`. */
    reset(workers, alerts) {
        this.byCode = new Map(workers.features.map((f) => [f.properties.code, f]));
        this.alerts = new Map(alerts.map((a) => [a.worker, a]));
        this.changed();
    }

    /** A worker's new state (a fix or a status change), unless older than the one shown. */
    update(feature) {
        const code = feature.properties.code;
        const shown = this.byCode.get(code);
        if (shown && instant(shown.properties.at) > instant(feature.properties.at)) return;
        this.byCode.set(code, feature);
        this.changed();
    }

    /** An alert raised, or cleared (`cleared_at` set). */
    alert(alert) {
        if (!alert.cleared_at) this.alerts.set(alert.worker, alert);
        else if (this.alerts.get(alert.worker)?.id === alert.id) this.alerts.delete(alert.worker);
        this.changed();
    }

    /** Draws at the next frame, once however many messages came meanwhile. */
    changed() {
        if (this.drawing) return;
        this.drawing = true;
        requestAnimationFrame(() => {
            this.drawing = false;
            this.draw();
        });
    }

    draw() {
        const features = [];
        for (const [code, f] of this.byCode) {
            if (!f.geometry) continue;
            const p = f.properties;
            features.push({
                type: 'Feature',
                geometry: f.geometry,
                properties: { code, name: p.name, status: p.status, alerted: this.alerts.has(code) },
            });
        }
        this.map.getSource('workers').setData({ type: 'FeatureCollection', features });
        const online = [...this.byCode.values()].filter((f) => f.properties.status === 'online').length;
        $('kpi-online').textContent = online.toLocaleString('zh-CN');
        $('kpi-online').title = `共 ${this.byCode.size} 人`;
        $('kpi-alerts').textContent = this.alerts.size.toLocaleString('zh-CN');
        this.showAlerts();
    }

    /** The open alerts, newest first; a click flies to the worker. */
    showAlerts() {
        const list = $('alert-list');
        const open = [...this.alerts.values()].sort((a, b) => instant(b.raised_at) - instant(a.raised_at));
        list.replaceChildren(...open.map((a) => {
            const p = this.byCode.get(a.worker)?.properties;
            const li = element('li');
            li.dataset.worker = a.worker;
            li.append(element('b', p?.name ?? a.worker), element('span', ` ${ROLE_NAMES[p?.role] ?? ''} · 越界 ${Math.round(a.distance_m)} 米`),
                element('small', ` ${chinaTime(a.raised_at)}`));
            li.addEventListener('click', () => this.flyTo(a.worker, [a.lon, a.lat]));
            return li;
        }));
        if (!open.length) list.append(element('li', '无越界告警', 'muted'));
    }

    flyTo(code, fallback) {
        const at = this.byCode.get(code)?.geometry?.coordinates ?? fallback;
        this.map.flyTo({ center: at, zoom: Math.max(this.map.getZoom(), 15) });
    }

    /** The popup of worker `code`: name, role, grid, status, last fix, open alert. */
    popup(code) {
        const f = this.byCode.get(code);
        if (!f?.geometry) return;
        const p = f.properties;
        const body = element('div', null, 'worker-popup');
        body.append(
            element('b', p.name),
            element('div', `${ROLE_NAMES[p.role] ?? p.role} · ${p.status === 'online' ? '在线' : '离线'}`),
            element('div', `所在网格 ${p.grid ?? '不在网格内'}`),
            element('div', `最后定位 ${chinaTime(p.at)}`),
        );
        const alert = this.alerts.get(code);
        if (alert) body.append(element('div', `越界 ${Math.round(alert.distance_m)} 米，自 ${chinaTime(alert.raised_at)}`, 'alert'));
        new Popup({ maxWidth: '20rem' }).setLngLat(f.geometry.coordinates).setDOMContent(body).addTo(this.map);
    }
}

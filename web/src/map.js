// The map: the service's dark style (basemap, boundaries, 3D buildings, heatmap) plus the event
// layers (clusters below z14, points by status above, overdue ringed in red), the selected
// area's outline and the grid workers (online bright, offline grey, an open out-of-grid alert
// ringed in red, named from z14). Every tile request to this service carries the page's
// credential.

import { Map, NavigationControl, ScaleControl, setWorkerUrl } from 'maplibre-gl';

/** Colours of the seven steps (上报 … 评价). */
export const STATUS_COLORS = {
    reported: '#ef5350',
    registered: '#ff7043',
    dispatched: '#ffa726',
    handling: '#ffee58',
    feedback: '#9ccc65',
    closed: '#26a69a',
    evaluated: '#42a5f5',
};

/** Names of the steps as the command center says them. */
export const STATUS_NAMES = {
    reported: '上报',
    registered: '立案',
    dispatched: '派遣',
    handling: '处置',
    feedback: '反馈',
    closed: '结案',
    evaluated: '评价',
};

/** The toggles of the layer panel: id → the style layers it shows or hides. */
export const LAYER_GROUPS = {
    boundaries: ['grid-fill', 'special-fill', 'microgrid-line', 'grid-line', 'community-line',
        'street-line', 'district-line', 'special-line', 'business-line', 'fire-grid-line', 'area-label'],
    buildings: ['building-extrusion'],
    events: ['event-clusters', 'event-cluster-count', 'event-points', 'event-overdue'],
    heatmap: ['event-heatmap'],
    workers: ['worker-alert-ring', 'worker-points', 'worker-label'],
    satellite: ['satellite'],
};

/** The query of the event and heatmap tiles for the panel's filters. */
export function eventTileQuery(filters, version) {
    const q = new URLSearchParams();
    q.set('from', filters.from);
    if (filters.category) q.set('category', filters.category);
    q.set('v', String(version));
    return q;
}

/** Creates the map in `container` with the event layers at `filters`; resolves once the style
 * and our layers are in. */
export function createMap(container, api, filters) {
    setWorkerUrl(new URL('/assets/maplibre-gl-worker.mjs', location.origin).href);
    const headers = api.headers();
    const map = new Map({
        container,
        style: `${location.origin}/styles/dark${api.credential.key ? `?key=${encodeURIComponent(api.credential.key)}` : ''}`,
        center: [114.3, 35.75],
        zoom: 9,
        pitch: 0,
        maxPitch: 70,
        attributionControl: false,
        transformRequest: (url) => (api.isOurs(url) ? { url, headers } : { url }),
    });
    map.addControl(new NavigationControl({ visualizePitch: true }), 'bottom-right');
    map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');
    return new Promise((resolve, reject) => {
        map.once('error', (e) => reject(e.error ?? new Error('the map style could not be loaded')));
        map.once('load', () => {
            performance.mark('gridmap:map-load');
            addEventLayers(map, filters);
            addSelectionLayers(map);
            addWorkerLayers(map);
            setEventFilters(map, filters, 0);
            resolve(map);
        });
    });
}

function addEventLayers(map, filters) {
    const q = eventTileQuery(filters, 0);
    map.addSource('events', {
        type: 'vector',
        tiles: [`${location.origin}/tiles/events/{z}/{x}/{y}.pbf?${q}`],
        minzoom: 8,
        maxzoom: 16,
    });
    const statusColor = ['match', ['get', 'status'],
        ...Object.entries(STATUS_COLORS).flat(), '#bdbdbd'];
    map.addLayer({
        id: 'event-clusters', type: 'circle', source: 'events', 'source-layer': 'cluster', maxzoom: 14,
        paint: {
            'circle-color': ['case', ['>', ['get', 'reported'], 0], '#ef5350', '#26a69a'],
            'circle-opacity': 0.75,
            'circle-radius': ['interpolate', ['linear'], ['get', 'count'], 1, 6, 50, 14, 500, 26],
            'circle-stroke-color': '#0b1220',
            'circle-stroke-width': 1,
        },
    });
    map.addLayer({
        id: 'event-cluster-count', type: 'symbol', source: 'events', 'source-layer': 'cluster', maxzoom: 14,
        layout: { 'text-field': ['to-string', ['get', 'count']], 'text-size': 11, 'text-font': ['DejaVu Sans'] },
        paint: { 'text-color': '#ffffff' },
    });
    map.addLayer({
        id: 'event-overdue', type: 'circle', source: 'events', 'source-layer': 'event', minzoom: 14,
        filter: ['==', ['get', 'overdue'], true],
        paint: { 'circle-radius': 11, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ff1744', 'circle-stroke-width': 3 },
    });
    map.addLayer({
        id: 'event-points', type: 'circle', source: 'events', 'source-layer': 'event', minzoom: 14,
        paint: {
            'circle-radius': 6,
            'circle-color': statusColor,
            'circle-stroke-color': '#0b1220',
            'circle-stroke-width': 1.5,
        },
    });
}

function addSelectionLayers(map) {
    map.addSource('selected', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({
        id: 'selected-line', type: 'line', source: 'selected',
        paint: { 'line-color': '#ffd54f', 'line-width': 3 },
    });
}

/** The workers' source (filled by workers.js from the live stream) and its layers, on top. */
function addWorkerLayers(map) {
    map.addSource('workers', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    const online = ['==', ['get', 'status'], 'online'];
    map.addLayer({
        id: 'worker-alert-ring', type: 'circle', source: 'workers',
        filter: ['==', ['get', 'alerted'], true],
        paint: { 'circle-radius': 12, 'circle-color': 'rgba(255,23,68,0.15)', 'circle-stroke-color': '#ff1744', 'circle-stroke-width': 3 },
    });
    map.addLayer({
        id: 'worker-points', type: 'circle', source: 'workers',
        paint: {
            'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 3.5, 15, 7],
            'circle-color': ['case', online, '#00e5ff', '#607d8b'],
            'circle-opacity': ['case', online, 1, 0.75],
            'circle-stroke-color': ['case', online, '#ffffff', '#0b1220'],
            'circle-stroke-width': ['case', online, 2, 1],
        },
    });
    map.addLayer({
        id: 'worker-label', type: 'symbol', source: 'workers', minzoom: 14,
        layout: {
            'text-field': ['get', 'name'],
            'text-font': ['DejaVu Sans', 'WenQuanYi Zen Hei'],
            'text-size': 12,
            'text-offset': [0, 1.2],
            'text-anchor': 'top',
        },
        paint: { 'text-color': ['case', online, '#e0f7fa', '#90a4ae'], 'text-halo-color': '#0b1220', 'text-halo-width': 1.5 },
    });
}

/** Points the event and heatmap tiles at `filters` (and a new `version` to refetch them). */
export function setEventFilters(map, filters, version) {
    const q = eventTileQuery(filters, version);
    map.getSource('events').setTiles([`${location.origin}/tiles/events/{z}/{x}/{y}.pbf?${q}`]);
    const heat = new URLSearchParams(q);
    heat.set('bin', filters.bin);
    map.getSource('heatmap').setTiles([`${location.origin}/tiles/heatmap/{z}/{x}/{y}.pbf?${heat}`]);
}

/** Shows or hides a layer group of the panel. */
export function showGroup(map, group, visible) {
    for (const id of LAYER_GROUPS[group]) {
        if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
}

/** The bounds [[w, s], [e, n]] of a GeoJSON geometry. */
export function geometryBounds(geometry) {
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    const visit = (c) => {
        if (typeof c[0] === 'number') {
            w = Math.min(w, c[0]); e = Math.max(e, c[0]);
            s = Math.min(s, c[1]); n = Math.max(n, c[1]);
        } else {
            c.forEach(visit);
        }
    };
    visit(geometry.coordinates);
    return [[w, s], [e, n]];
}

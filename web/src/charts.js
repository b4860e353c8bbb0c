// The charts of the side panel, with only the ECharts parts they need: the event trend
// (line), the categories of the window (pie) and the ranking of the selected area's children
// (bar).

import { init, use } from 'echarts/core';
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

// No animation: a wall refreshes every few seconds, and a redrawn chart should not replay.
const TEXT = '#b8c7e0';
const AXIS = { axisLine: { lineStyle: { color: '#3a4a66' } }, axisLabel: { color: TEXT }, splitLine: { lineStyle: { color: '#1c2a44' } } };

/** The three charts, each in its element. */
export class Charts {
    constructor(trendEl, pieEl, rankingEl) {
        this.trend = init(trendEl, null, { renderer: 'canvas' });
        this.pie = init(pieEl, null, { renderer: 'canvas' });
        this.ranking = init(rankingEl, null, { renderer: 'canvas' });
        addEventListener('resize', () => [this.trend, this.pie, this.ranking].forEach((c) => c.resize()));
    }

    /** Events reported per day (`points` of /api/stats/timeseries). */
    showTrend(points) {
        this.trend.setOption({
            animation: false,
            grid: { left: 40, right: 12, top: 16, bottom: 24 },
            tooltip: { trigger: 'axis' },
            xAxis: { type: 'category', data: points.map((p) => p.start.slice(5, 10)), ...AXIS },
            yAxis: { type: 'value', minInterval: 1, ...AXIS },
            series: [{ type: 'line', name: '上报', data: points.map((p) => p.value), smooth: true, showSymbol: false, areaStyle: { opacity: 0.2 }, lineStyle: { color: '#4fc3f7' }, itemStyle: { color: '#4fc3f7' } }],
        }, true);
    }

    /** The window's events by category (`by_category` of /api/stats/areas), the largest eight,
     * under their names (`names`: code → name, from /api/events/categories). */
    showCategories(byCategory, names) {
        const entries = Object.entries(byCategory).sort((a, b) => b[1] - a[1]);
        const top = entries.slice(0, 8).map(([code, value]) => ({ name: names.get(code) ?? code, value }));
        const rest = entries.slice(8).reduce((n, [, v]) => n + v, 0);
        if (rest > 0) top.push({ name: '其他', value: rest });
        this.pie.setOption({
            animation: false,
            tooltip: { trigger: 'item' },
            series: [{ type: 'pie', radius: ['40%', '70%'], data: top, label: { color: TEXT }, itemStyle: { borderColor: '#0b1220', borderWidth: 2 } }],
        }, true);
    }

    /** The children ranked by open events (rows of /api/stats/areas/{code}/children). */
    showRanking(children) {
        const rows = children
            .map((c) => ({ name: c.name, open: c.events?.open ?? 0, overdue: c.events?.overdue ?? 0 }))
            .sort((a, b) => a.open - b.open)
            .slice(-10);
        this.ranking.setOption({
            animation: false,
            grid: { left: 96, right: 16, top: 24, bottom: 20 },
            legend: { data: ['在办', '超期'], textStyle: { color: TEXT }, top: 0 },
            tooltip: { trigger: 'axis' },
            xAxis: { type: 'value', minInterval: 1, ...AXIS },
            yAxis: { type: 'category', data: rows.map((r) => r.name), ...AXIS },
            series: [
                { type: 'bar', name: '在办', data: rows.map((r) => r.open), itemStyle: { color: '#ffa726' } },
                { type: 'bar', name: '超期', data: rows.map((r) => r.overdue), itemStyle: { color: '#ef5350' } },
            ],
        }, true);
    }
}

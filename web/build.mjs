// Builds the wall map into web/dist/, which the gridmap binary embeds and serves at /assets/:
// app.js (our code with MapLibre GL JS and the ECharts parts we use, one ES module, minified),
// app.css (MapLibre's stylesheet and ours) and maplibre-gl-worker.mjs (MapLibre's worker, as
// shipped). The output depends only on the sources and the locked packages, so `scripts/test`
// rebuilds it and fails when it differs from what is committed.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const out = new URL('./dist/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });

await build({
    entryPoints: { app: 'src/main.js' },
    bundle: true,
    format: 'esm',
    minify: true,
    target: ['es2022'],
    outdir: out,
    legalComments: 'linked',
    logLevel: 'warning',
});
await build({
    entryPoints: { app: 'src/app.css' },
    bundle: true,
    minify: true,
    outdir: out,
    logLevel: 'warning',
});
copyFileSync('node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs', `${out}maplibre-gl-worker.mjs`);

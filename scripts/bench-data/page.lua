-- wrk script of `scripts/bench events` (the listing): one request, repeated; done() prints the
-- same RESULT line as tiles.lua: "RESULT requests=N seconds=S rps=R p50_ms=A p99_ms=B
-- errors=E non2xx=F bytes=G".
--   wrk -H 'Authorization: Bearer T' ... -s page.lua URL

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d bytes=%d\n",
        summary.requests, seconds, summary.requests / seconds,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        e.connect + e.read + e.write + e.timeout, e.status, summary.bytes))
end

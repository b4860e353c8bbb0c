-- The RESULT line of the benches' wrk runs: done() prints "RESULT requests=N seconds=S rps=R
-- p50_ms=A p99_ms=B errors=E non2xx=F bytes=G"; non2xx counts 4xx/5xx answers (wrk's status
-- errors), errors the socket errors (connect, read, write, timeout). Used alone for one
-- repeated request (the listing of `scripts/bench events`:
--   wrk -H 'Authorization: Bearer T' ... -s result.lua URL)
-- and loaded by tiles.lua.

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d bytes=%d\n",
        summary.requests, seconds, summary.requests / seconds,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        e.connect + e.read + e.write + e.timeout, e.status, summary.bytes))
end

# Checks that the served OpenAPI document tells the truth (issue 17, item 7): starts
# `gridmap serve` on a fresh sample city, then lets schemathesis (scripts/lib/python-tools.sh
# installs it) send generated requests, valid and invalid, to every documented operation with
# an admin token. The run is bounded (a fixed seed, a number of examples per operation) and
# fails on any 5xx, a status the document does not list for the operation, a content type it
# does not list, or a body outside the documented schema. Sourced, not run; needs
# GRIDMAP_SCHEMATHESIS (ensure_python_tools).

SCHEMATHESIS_SEED="${SCHEMATHESIS_SEED:-20261206}"
SCHEMATHESIS_MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-30}"

# Builds gridmap, serves a fresh sample city on a free port and runs schemathesis against it;
# returns schemathesis's exit status.
run_schemathesis() {
    if [ ! -x "${GRIDMAP_SCHEMATHESIS:-}" ]; then
        echo "error: GRIDMAP_SCHEMATHESIS is not set: run ensure_python_tools first" >&2
        return 1
    fi
    cargo build --quiet --bin gridmap
    local bin="${CARGO_TARGET_DIR:-target}/debug/gridmap"
    local work
    work="$(mktemp -d)"
    local secret="schemathesis-$RANDOM$RANDOM"
    "$bin" generate --scale sample --seed 1 --out "$work/city.gpkg" >/dev/null
    local port
    port="$("$GRIDMAP_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    GRIDMAP_JWT_SECRET="$secret" "$bin" serve --data "$work/city.gpkg" \
        --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
    local server=$!
    local base="http://127.0.0.1:$port"
    local status=0
    if wait_for_health "$base" "$server"; then
        local token
        token="$(GRIDMAP_JWT_SECRET="$secret" "$bin" token --scope 410600 --roles admin --ttl 1h)"
        "$GRIDMAP_SCHEMATHESIS" run "$base/openapi.json" \
            --header "Authorization: Bearer $token" \
            --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
            --phases examples,coverage,fuzzing \
            --seed "$SCHEMATHESIS_SEED" \
            --max-examples "$SCHEMATHESIS_MAX_EXAMPLES" \
            --workers 1 \
            --request-timeout 30 \
            --suppress-health-check all \
            --report junit --report-dir "$work/report" || status=$?
    else
        echo "error: gridmap serve did not become healthy; its log:" >&2
        cat "$work/serve.log" >&2
        status=1
    fi
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$work"
    return "$status"
}

# Waits up to a minute for $1/health to answer while process $2 runs.
wait_for_health() {
    local base="$1" server="$2"
    for _ in $(seq 1 120); do
        if ! kill -0 "$server" 2>/dev/null; then
            return 1
        fi
        if "$GRIDMAP_PYTHON" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$base/health" 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# Node.js tools the test suite runs: the official MapLibre style validator (gl-style-validate)
# that checks tiles/styles/*.json as served, installed into the project-local .tools/node; and
# the wall map's packages (web/package-lock.json: MapLibre GL JS, ECharts, esbuild,
# playwright-core), with which the wall map is rebuilt and compared with the committed build.
# Sourced, not run.

STYLE_SPEC_VERSION="26.6.0"
NODE_TOOLS_DIR="${NODE_TOOLS_DIR:-$PWD/.tools/node}"

# Installs Node.js and npm from apt when npm is missing (needs root, like ensure_packages).
ensure_npm() {
    command -v npm >/dev/null && return
    echo "installing: nodejs npm"
    if [ "$(id -u)" != 0 ]; then
        echo "error: need root to install nodejs and npm (or install them yourself)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
}

# Installs @maplibre/maplibre-gl-style-spec (pinned) when missing or at another version, and
# exports GRIDMAP_STYLE_VALIDATOR, the path of its gl-style-validate binary, for tests/styles.rs.
ensure_node_tools() {
    local validator="$NODE_TOOLS_DIR/node_modules/.bin/gl-style-validate"
    local installed="$NODE_TOOLS_DIR/node_modules/@maplibre/maplibre-gl-style-spec/package.json"
    if [ ! -x "$validator" ] || ! grep -q "\"version\": \"$STYLE_SPEC_VERSION\"" "$installed" 2>/dev/null; then
        ensure_npm
        echo "installing: @maplibre/maplibre-gl-style-spec@$STYLE_SPEC_VERSION into $NODE_TOOLS_DIR"
        mkdir -p "$NODE_TOOLS_DIR"
        npm install --prefix "$NODE_TOOLS_DIR" --no-audit --no-fund --loglevel=error \
            "@maplibre/maplibre-gl-style-spec@$STYLE_SPEC_VERSION" >/dev/null
    fi
    export GRIDMAP_STYLE_VALIDATOR="$validator"
}

# Installs web/'s locked packages (npm ci, when package-lock.json is newer than what is
# installed), rebuilds web/dist and fails when the build differs from what is committed: the
# binary embeds web/dist, so a source change without its build would not reach users.
ensure_wall_map_build() {
    ensure_npm
    if [ ! -e web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
        echo "installing: web/ packages (npm ci)"
        (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
    (cd web && node build.mjs)
    if ! git diff --quiet -- web/dist || [ -n "$(git ls-files --others --exclude-standard web/dist)" ]; then
        echo "scripts/test: web/dist differs from the build of web/src: run \`(cd web && node build.mjs)\` and commit web/dist" >&2
        git status --short -- web/dist >&2
        exit 1
    fi
}

# Node.js tools the test suite runs: the official MapLibre style validator (gl-style-validate)
# that checks tiles/styles/*.json as served. Installed into the project-local .tools/node.
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

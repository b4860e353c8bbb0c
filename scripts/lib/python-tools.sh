# Python tools the test suite runs: the reference `pmtiles` reader (PyPI, from the PMTiles
# authors) that tests/export_tiles.rs reads `gridmap export-tiles` archives back with, so the
# archive is checked by a reader independent of the writer. Installed into the project-local
# virtual environment .tools/python. Sourced, not run.

PMTILES_PY_VERSION="3.8.1"
PYTHON_TOOLS_DIR="${PYTHON_TOOLS_DIR:-$PWD/.tools/python}"

# Creates the virtual environment (installing python3-venv from apt when needed, as root) and
# installs pmtiles (pinned) when missing or at another version; exports GRIDMAP_PYTHON, the
# interpreter tests/export_tiles.rs runs.
ensure_python_tools() {
    local python="$PYTHON_TOOLS_DIR/bin/python"
    if [ ! -x "$python" ]; then
        if ! python3 -m venv "$PYTHON_TOOLS_DIR" >/dev/null 2>&1; then
            if [ "$(id -u)" != 0 ]; then
                echo "error: need root to install python3-venv (or install it yourself)" >&2
                exit 1
            fi
            echo "installing: python3-venv"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$PYTHON_TOOLS_DIR"
            python3 -m venv "$PYTHON_TOOLS_DIR"
        fi
    fi
    if ! "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pmtiles') != '$PMTILES_PY_VERSION')" 2>/dev/null; then
        echo "installing: pmtiles==$PMTILES_PY_VERSION into $PYTHON_TOOLS_DIR"
        "$python" -m pip install --quiet --disable-pip-version-check "pmtiles==$PMTILES_PY_VERSION"
    fi
    export GRIDMAP_PYTHON="$python"
}

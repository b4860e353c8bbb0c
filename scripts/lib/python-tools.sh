# Python tools the test suite runs: the reference `pmtiles` reader (PyPI, from the PMTiles
# authors) that tests/export_tiles.rs reads `gridmap export-tiles` archives back with, so the
# archive is checked by a reader independent of the writer; and `schemathesis` (PyPI), which
# scripts/lib/schemathesis.sh runs against the served OpenAPI document. Installed into the
# project-local virtual environment .tools/python. Sourced, not run.

PMTILES_PY_VERSION="3.8.1"
SCHEMATHESIS_VERSION="4.32.5"
PYTHON_TOOLS_DIR="${PYTHON_TOOLS_DIR:-$PWD/.tools/python}"

# Creates the virtual environment (installing python3-venv from apt when needed, as root) and
# installs pmtiles and schemathesis (pinned) when missing or at another version; exports
# GRIDMAP_PYTHON, the interpreter tests/export_tiles.rs runs, and GRIDMAP_SCHEMATHESIS.
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
    ensure_python_package "$python" pmtiles "$PMTILES_PY_VERSION"
    ensure_python_package "$python" schemathesis "$SCHEMATHESIS_VERSION"
    export GRIDMAP_PYTHON="$python"
    export GRIDMAP_SCHEMATHESIS="$PYTHON_TOOLS_DIR/bin/schemathesis"
}

# Installs package $2 at version $3 from PyPI with interpreter $1 unless that version is there.
ensure_python_package() {
    local python="$1" package="$2" version="$3"
    if ! "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$package') != '$version')" 2>/dev/null; then
        echo "installing: $package==$version into $PYTHON_TOOLS_DIR"
        "$python" -m pip install --quiet --disable-pip-version-check "$package==$version"
    fi
}

# Shared set-up for scripts/test and scripts/bench: PostGIS, GDAL and a template database.
# Sourced, not run.

PG_BASE_URL="${GRIDMAP_PG_BASE_URL:-postgres://postgres@127.0.0.1:5432}"

pg_psql() {
    psql "$PG_BASE_URL/postgres" -v ON_ERROR_STOP=1 -qAt "$@"
}

# Installs the PostGIS package for the cluster's PostgreSQL version, GDAL's command-line tools
# (the suite checks our files and tiles with ogrinfo) when they are missing.
ensure_packages() {
    local missing=()
    local pgver
    pgver="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
    pgver="${pgver:-15}"
    [ -e "/usr/share/postgresql/$pgver/extension/postgis.control" ] || missing+=("postgresql-$pgver-postgis-3")
    command -v ogrinfo >/dev/null || missing+=(gdal-bin)
    command -v psql >/dev/null || missing+=(postgresql-client)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
    # The wall-map test drives Debian's Chromium (tests/wall_map.rs).
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing: ${missing[*]}"
        if [ "$(id -u)" != 0 ]; then
            echo "error: need root to install ${missing[*]} (or install them yourself)" >&2
            exit 1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The Debian cluster ("VERSION NAME") listening on the port of PG_BASE_URL (5432 when the URL
# names none), so that a benchmark run against a cluster of its own (GRIDMAP_PG_BASE_URL)
# starts and restarts that one; the newest version's main cluster when none listens there.
pg_cluster() {
    local port found
    port="$(sed -n 's|.*:\([0-9][0-9]*\)/*$|\1|p' <<<"$PG_BASE_URL")"
    if command -v pg_lsclusters >/dev/null; then
        found="$(pg_lsclusters -h | awk -v p="${port:-5432}" '$3 == p { print $1, $2; exit }')"
    fi
    echo "${found:-$(ls /etc/postgresql | sort -n | tail -1) main}"
}

# Starts the local cluster when nothing answers on the configured address.
ensure_postgres_running() {
    if pg_psql -c 'select 1' >/dev/null 2>&1; then
        return
    fi
    echo "starting PostgreSQL"
    if command -v pg_ctlcluster >/dev/null; then
        # shellcheck disable=SC2046 # "VERSION NAME", two arguments
        pg_ctlcluster --skip-systemctl-redirect $(pg_cluster) start || true
    fi
    for _ in $(seq 1 30); do
        pg_psql -c 'select 1' >/dev/null 2>&1 && return
        sleep 1
    done
    echo "error: PostgreSQL does not answer at $PG_BASE_URL" >&2
    exit 1
}

# Sets the cluster up as a server holding a city's events would be: shared buffers of a
# quarter of the memory (at most 8 GB; the Debian default of 128 MB makes every insert into a
# 10 M-row table evict and re-read index pages), room for bulk writes between checkpoints,
# compressed full-page images, and connections for a hundred listeners.
# Restarts PostgreSQL when a setting needs it. The benchmarks call this; their anchors run on
# the same cluster.
ensure_postgres_tuned() {
    local mem_mb buffers_mb
    mem_mb="$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
    buffers_mb=$((mem_mb / 4))
    [ "$buffers_mb" -gt 8192 ] && buffers_mb=8192
    pg_psql -c "alter system set shared_buffers = '${buffers_mb}MB'" >/dev/null
    pg_psql -c "alter system set max_wal_size = '8GB'" >/dev/null
    pg_psql -c "alter system set checkpoint_timeout = '15min'" >/dev/null
    # The live fan-out anchor (benches/workers) holds 100 LISTEN connections beside the
    # service's pool and the benchmark's own; the default of 100 is too few.
    pg_psql -c "alter system set max_connections = 200" >/dev/null
    # Full-page images (the first change of a page after a checkpoint) are most of the WAL an
    # ingest into a big, updated table writes; lz4 halves them (pglz where lz4 is missing).
    pg_psql -c "alter system set wal_compression = 'lz4'" >/dev/null 2>&1 ||
        pg_psql -c "alter system set wal_compression = 'pglz'" >/dev/null
    pg_psql -c "select pg_reload_conf()" >/dev/null
    if [ "$(pg_psql -c "select count(*) from pg_settings where pending_restart")" != 0 ]; then
        echo "restarting PostgreSQL $(pg_cluster) (shared_buffers = ${buffers_mb}MB)"
        # shellcheck disable=SC2046 # "VERSION NAME", two arguments
        pg_ctlcluster --skip-systemctl-redirect $(pg_cluster) restart
        ensure_postgres_running
    fi
}

# Drops the databases the tests made (each test clones the template into one of its own):
# a run leaves a few GB of them, and a machine that runs the suite often would fill its disk.
drop_test_databases() {
    local db
    for db in $(pg_psql -c "select datname from pg_database where datname like 'gridmap_t\_%'"); do
        pg_psql -c "drop database if exists \"$db\" with (force)" >/dev/null
    done
}

# Fails with a clear message when the filesystem holding PATH has less than GB gigabytes free
# (a full disk makes PostgreSQL stop in "recovery mode" and SQLite fail mid-test, which reads
# as dozens of unrelated test failures).
ensure_free_disk() {
    local path="$1" gb="$2" free_kb
    free_kb="$(df -Pk "$path" | awk 'NR == 2 { print $4 }')"
    if [ "$free_kb" -lt $((gb * 1024 * 1024)) ]; then
        echo "error: $(df -Ph "$path" | awk 'NR == 2 { print $4 " free on " $6 }'): the run needs about $gb GB (build, test databases, temporary files); free some space first" >&2
        exit 1
    fi
}

# (Re)creates gridmap_template with PostGIS; tests clone it with CREATE DATABASE … TEMPLATE.
# Old test databases from earlier runs are dropped first.
ensure_template_database() {
    drop_test_databases
    pg_psql -c "update pg_database set datistemplate = false where datname = 'gridmap_template'" >/dev/null
    pg_psql -c "drop database if exists gridmap_template with (force)" >/dev/null
    pg_psql -c "create database gridmap_template" >/dev/null
    psql "$PG_BASE_URL/gridmap_template" -v ON_ERROR_STOP=1 -qAt -c "create extension postgis" >/dev/null
    pg_psql -c "update pg_database set datistemplate = true where datname = 'gridmap_template'" >/dev/null
}

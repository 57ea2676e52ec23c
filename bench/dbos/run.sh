#!/usr/bin/env bash
# The DBOS baseline of `bench engine`: starts a throwaway PostgreSQL cluster on loopback in a temporary directory,
# installs the pinned DBOS packages (npm ci) when needed, runs bench.mjs once per row with a fresh system database
# each, prints each row's JSON line on stdout (progress on stderr), and stops and deletes the cluster.
#
#   bash bench/dbos/run.sh                       the two rows targets.sh compares: 1 client, 2,000 workflows;
#                                                32 clients, 8,000 workflows (the same counts as the engine rows)
#   bash bench/dbos/run.sh --concurrency 32 --count 8000 [--warmup-seconds 20 ...]
#                                                one row with these options (node bench.mjs --help lists them)
#
# The cluster keeps PostgreSQL's durable defaults: fsync on, synchronous_commit on, full_page_writes on, the
# platform's wal_sync_method. A workflow's start, each step and its end are each committed to the WAL on disk before
# DBOS goes on, as the engine's SQLite FULL rows commit to disk. The data directory is under ${TMPDIR:-/tmp}, where
# `bench engine` puts its SQLite file, so both write to the same disk.
# DBOS connects over the cluster's Unix socket (PG_CONNECT=tcp: over 127.0.0.1 instead): in trials here the socket
# cost DBOS and the server 10-15% less CPU per workflow than TCP, and the engine it is compared with has no hop at all.
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin, else pg_config's bindir); NODE_ARGS, options for node.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

pg_bin="${PG_BIN:-}"
if [[ -z "$pg_bin" ]]; then
    if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
        pg_bin=/usr/lib/postgresql/15/bin
    elif command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]; then
        pg_bin="$(pg_config --bindir)"
    fi
fi
if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" || ! -x "$pg_bin/pg_ctl" ]]; then
    echo "bench/dbos/run.sh: no PostgreSQL server binaries (initdb, pg_ctl) found; install them (Debian: apt-get install postgresql-15) or set PG_BIN" >&2
    exit 2
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "bench/dbos/run.sh: node and npm are needed (Node 20 or later)" >&2
    exit 2
fi

# npm ci when node_modules is missing or older than the lock file.
if [[ ! -d "$here/node_modules/@dbos-inc/dbos-sdk" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
    echo "# npm ci in bench/dbos" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

# PostgreSQL refuses to run as root: as root the cluster belongs to the 'postgres' user that Debian's package
# creates (or to one this script creates, 'kata-bench-pg', when there is none).
as_owner=()
if ((EUID == 0)); then
    owner=postgres
    if ! id -u "$owner" >/dev/null 2>&1; then
        owner=kata-bench-pg
        id -u "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
    fi
    as_owner=(runuser -u "$owner" --)
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/kata-bench-dbos.XXXXXX")"
data="$dir/data"
started=0
cleanup() {
    if ((started)); then
        "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ((EUID == 0)); then
    chown "$owner" "$dir"
fi

# A free loopback port, asked of the kernel.
port="$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"

"${as_owner[@]}" "$pg_bin/initdb" -D "$data" -U bench --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
# Only where the server listens changes; every durability setting is left at its default.
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
started=1
postmaster="$(head -1 "$data/postmaster.pid")"
echo "# postgres $("$pg_bin/postgres" --version | sed "s/^postgres (PostgreSQL) //") on 127.0.0.1:$port, data in $data (pid $postmaster)" >&2

row=0
run_row() {
    row=$((row + 1))
    # shellcheck disable=SC2086 # NODE_ARGS is a list of options (e.g. --cpu-prof --cpu-prof-dir=DIR to profile)
    local url="postgresql://bench@127.0.0.1:$port/dbos_bench_$row"
    if [[ "${PG_CONNECT:-unix}" == unix ]]; then
        url="postgresql://bench@localhost:$port/dbos_bench_$row?host=$dir"
    fi
    node ${NODE_ARGS:-} "$here/bench.mjs" --database-url "$url" --postgres-pid "$postmaster" "$@"
}

if (($# > 0)); then
    run_row "$@"
else
    run_row --concurrency 1 --count 2000
    run_row --concurrency 32 --count 8000
fi

#!/usr/bin/env bash
# Runs every benchmark that an issue sets a target for, one after another, and prints the JSON lines with the
# arguments before each. Run it on a quiet machine (no builds or tests alongside): `bash bench/targets.sh`.
# The disk's synchronous-write time is printed before and after, as the FULL numbers follow it.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release bench/Bench.csproj -v quiet -nologo >/dev/null
bench=(dotnet bench/bin/Release/net10.0/KataWorkflows.Bench.dll)

disk() {
    local file
    file=$(mktemp)
    echo "# disk: $(dd if=/dev/zero of="$file" bs=8k count=500 oflag=dsync 2>&1 | tail -1)"
    rm -f "$file"
}

run() {
    echo "## $*"
    "${bench[@]}" "$@" 2>/dev/null
}

date -u '+# %Y-%m-%d %H:%M:%S UTC'
disk
run engine --store sqlite --synchronous full --concurrency 1 --count 2000
run engine --store sqlite --synchronous full --concurrency 32 --count 8000
run engine --store sqlite --synchronous full --concurrency 32 --count 8000 --ids random
run entity-lock --store sqlite --synchronous full --count 2000 --concurrency 32
run lifecycle --store sqlite --synchronous full --concurrency 32 --count 2000
run lifecycle --store sqlite --synchronous full --concurrency 1 --count 300
run lifecycle --store sqlite --synchronous normal --concurrency 1 --count 500
run lifecycle --store sqlite --synchronous full --concurrency 32 --count 2000 --run-root "${TMPDIR:-/tmp}"
run console --runs 10000
disk
date -u '+# %Y-%m-%d %H:%M:%S UTC'

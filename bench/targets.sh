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

results=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$results" "$errors"' EXIT

# Each row's JSON line goes to stdout and to $results (for the ratios at the end).
run() {
    echo "## $*"
    "${bench[@]}" "$@" 2>"$errors" | tee -a "$results" || failed "$@"
}

# A row that failed: its last lines of stderr, and the script goes on with the others.
failed() {
    echo "# FAILED: $*"
    tail -3 "$errors" | sed 's/^/#   /'
}

# The DBOS baseline (bench/dbos/run.sh: DBOS Transact on a throwaway PostgreSQL cluster), the engine rows' counts.
dbos() {
    echo "## dbos $*"
    bash bench/dbos/run.sh "$@" 2>"$errors" | tee -a "$results" || failed dbos "$@"
}

# Throughput of the first row matching a jq filter.
rate() {
    jq -s "map(select($1)) | first | .workflowsPerSec // empty" "$results"
}

ratio() {
    local label="$1" target="$2" ours theirs
    ours=$(rate "$3")
    theirs=$(rate "$4")
    if [[ -z "$ours" || -z "$theirs" ]]; then
        echo "# $label: no figure (a row failed)"
        return
    fi
    jq -rn --argjson a "$ours" --argjson b "$theirs" --argjson t "$target" --arg l "$label" \
        '"# \($l): \($a) / \($b) workflows/s = \(($a / $b * 100 | round) / 100)x (target >= \($t)x: \(if $a / $b >= $t then "met" else "NOT met" end))"'
}

date -u '+# %Y-%m-%d %H:%M:%S UTC'
disk
run engine --store sqlite --synchronous full --concurrency 1 --count 2000
run engine --store sqlite --synchronous full --concurrency 32 --count 8000
run engine --store sqlite --synchronous full --concurrency 32 --count 8000 --ids random
# Issue 14: the same workflow on the official .NET gRPC worker in another process (the host's sidecar on a Unix socket).
run engine --store sqlite --synchronous full --concurrency 1 --count 2000 --worker remote
run engine --store sqlite --synchronous full --concurrency 32 --count 8000 --worker remote
dbos --concurrency 1 --count 2000
dbos --concurrency 32 --count 8000
run entity-lock --store sqlite --synchronous full --count 2000 --concurrency 32
run lifecycle --store sqlite --synchronous full --concurrency 32 --count 2000
run lifecycle --store sqlite --synchronous full --concurrency 1 --count 300
run lifecycle --store sqlite --synchronous normal --concurrency 1 --count 500
run lifecycle --store sqlite --synchronous full --concurrency 32 --count 2000 --run-root "${TMPDIR:-/tmp}"
run console --runs 10000
disk
date -u '+# %Y-%m-%d %H:%M:%S UTC'
engine32='.benchmark == "engine" and .concurrency == 32 and .synchronous == "full" and .ids == "ordered" and (.worker // "in-process") == "in-process"'
dbos32='.benchmark == "dbos" and .concurrency == 32'
ratio "issue 12: engine FULL 32 clients / DBOS 32 clients" 10 "$engine32" "$dbos32"
remote32='.benchmark == "engine" and .concurrency == 32 and .synchronous == "full" and .worker == "remote"'
ratio "issue 14: engine FULL 32 clients, remote worker / DBOS 32 clients" 5 "$remote32" "$dbos32"

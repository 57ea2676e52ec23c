#!/usr/bin/env bash
# Builds everything and runs every test project (tests/*/*.Tests.csproj) in Release, then prints one summary line
# counted from the TRX results: "N passed, N failed" (", N skipped" when some were skipped). Progress goes to
# stderr; the summary is the last line on stdout. Exits non-zero when a test failed, a test project could not run,
# or no test ran at all.
set -euo pipefail
cd "$(dirname "$0")"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results="${TEST_RESULTS_DIR:-artifacts/test-results}"
log() { printf '[test] %s\n' "$*" >&2; }

rm -rf "$results"
mkdir -p "$results"
results="$(cd "$results" && pwd)"

# A build that fails still ends in a summary: each test project then fails to build on its own and counts as
# failed below, and the failed build counts once more (a broken benchmark has no test project of its own).
broken=0
log "building the solution and the benchmark (Release; warnings are errors)"
if ! dotnet build KataWorkflows.sln -c Release >&2; then
    log "the solution did not build"
    broken=$((broken + 1))
fi
if [[ -f bench/Bench.csproj ]] && ! dotnet build bench/Bench.csproj -c Release >&2; then
    log "the benchmark did not build"
    broken=$((broken + 1))
fi

mapfile -t projects < <(find tests -mindepth 2 -maxdepth 2 -name '*.Tests.csproj' | sort)
if ((${#projects[@]} == 0)); then
    log "no test projects under tests/"
    echo "0 passed, 0 failed"
    exit 1
fi

for project in "${projects[@]}"; do
    name="$(basename "$project" .csproj)"
    log "running $name"
    status=0
    # A hung test host is killed after 10 minutes and reported, instead of eating the whole CI budget.
    dotnet test "$project" -c Release \
        --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
        --blame-hang-timeout 10m --blame-hang-dump-type none >&2 || status=$?
    if ((status != 0)); then
        log "$name exited with $status"
        # A project that failed without a failed test in its results (it did not build, its host crashed)
        # counts as one failure, so the summary never reads clean when something did not run.
        if [[ ! -f "$results/$name.trx" ]] || ! grep -Eq '<Counters [^>]*(failed|error|timeout|aborted)="[1-9]' "$results/$name.trx"; then
            broken=$((broken + 1))
        fi
    fi
done

# Sum the counters of every TRX file: <Counters total=".." executed=".." passed=".." failed=".." error=".." ...>.
# With no TRX file at all (nothing built) awk prints nothing and read meets the end of its input: every count is 0.
read -r total executed passed failed < <(
    find "$results" -name '*.trx' -print0 | xargs -0 -r awk '
        /<Counters / {
            line = $0
            while (match(line, /[A-Za-z]+="[0-9]+"/)) {
                pair = substr(line, RSTART, RLENGTH)
                split(pair, kv, "=")
                gsub(/"/, "", kv[2])
                count[kv[1]] += kv[2]
                line = substr(line, RSTART + RLENGTH)
            }
        }
        END { printf "%d %d %d %d\n", count["total"], count["executed"], count["passed"], count["failed"] + count["error"] + count["timeout"] + count["aborted"] }
    ' || echo "0 0 0 0"
) || true
total=${total:-0} executed=${executed:-0} passed=${passed:-0} failed=${failed:-0}
failed=$((failed + broken))
skipped=$((total - executed))

summary="$passed passed, $failed failed"
if ((skipped > 0)); then
    summary="$summary, $skipped skipped"
fi

log "results in $results"
echo "$summary"
if ((failed > 0)); then
    exit 1
fi
if ((executed == 0)); then
    log "no test ran"
    exit 1
fi

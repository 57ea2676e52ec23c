#!/usr/bin/env bash
# The main job: builds the host and kwf (Release), starts the host on the embedded SQLite store in a temporary state
# directory with a temporary Unix socket and the mock drivers, drives sandboxes through create, run, container exec and
# cleanup with kwf, shows the run's history with 'kwf wf history', then stops the host. Everything temporary is removed
# on exit, also on failure or Ctrl+C. Extra arguments go to every kwf call (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '\n[run] %s\n' "$*" >&2; }

log "building the host and kwf (Release)"
dotnet build src/Host/Host.csproj -c Release -v quiet -nologo >&2
dotnet build src/Cli/Cli.csproj -c Release -v quiet -nologo >&2
host_dll="src/Host/bin/Release/net10.0/KataWorkflows.Host.dll"
kwf_dll="src/Cli/bin/Release/net10.0/kwf.dll"

work="$(mktemp -d "${TMPDIR:-/tmp}/kata-workflows-run.XXXXXX")"
host_pid=""
cleanup() {
    local status=$?
    if [[ -n "$host_pid" ]] && kill -0 "$host_pid" 2>/dev/null; then
        log "stopping the host"
        kill -TERM "$host_pid" 2>/dev/null || true
        wait "$host_pid" 2>/dev/null || true
    fi
    if ((status != 0)) && [[ -f "$work/host.log" ]]; then
        log "the host's log (last 40 lines):"
        tail -n 40 "$work/host.log" >&2 || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT INT TERM

export KWF_SOCKET="$work/kwf.sock"
log "starting the host: SQLite store in $work/state, socket $KWF_SOCKET"
KataWorkflows__StateDirectory="$work/state" \
KataWorkflows__RunRoot="$work/run" \
KataWorkflows__Listen__UnixSocket="$KWF_SOCKET" \
    dotnet "$host_dll" >"$work/host.log" 2>&1 &
host_pid=$!

kwf() {
    printf '\n$ kwf %s\n' "$*"
    dotnet "$kwf_dll" "$@" "${extra[@]}"
}
extra=("$@")

for _ in $(seq 1 600); do
    if ! kill -0 "$host_pid" 2>/dev/null; then
        log "the host exited before it answered"
        exit 1
    fi
    if [[ -S "$KWF_SOCKET" ]] && dotnet "$kwf_dll" sandbox list >/dev/null 2>&1; then
        break
    fi
    sleep 0.1
done
dotnet "$kwf_dll" sandbox list >/dev/null

# The mock hypervisor and the noop agent stand in for QEMU and the Kata agent; nothing is booted.
mock=(--hypervisor mock --agent noop --kernel /usr/share/kata/vmlinuz --image /usr/share/kata/kata.img --interworking-model none)

log "create: a sandbox with one container, not started"
kwf sandbox create demo-created --container c1 "${mock[@]}"
kwf sandbox status demo-created

log "run: create and start a sandbox with two containers (each step shown as it starts and ends)"
kwf --request-id demo-run sandbox run demo --container web --container sidecar "${mock[@]}"

log "container exec: run a process in a container"
kwf container exec demo web --env GREETING=hello -- /bin/echo hello

log "cleanup: stop and delete each container; with the last, the sandbox goes too"
kwf cleanup demo sidecar
kwf cleanup demo web
kwf sandbox delete demo-created
kwf sandbox list

log "the runs, then the history of the run above"
kwf wf list
kwf wf history RunSandbox:demo:demo-run

log "done"

#!/usr/bin/env bash
# The main job: builds the host and kwf (Release), starts the host on the embedded SQLite store in a temporary state
# directory with a temporary Unix socket, and boots a real sandbox: QEMU (TCG where KVM does not boot) with the
# project's guest image (guest/build.sh, built the first time), the Kata agent in the guest and a network namespace
# with a veth, a tap and tc mirred filters. With kwf: sandbox run, container exec printing the guest's own `uname -r`
# and a command's output in the container, network ifaces, a ping from the host end to the guest's address, cleanup,
# and the run's history. Needs root, qemu-system-x86_64, ip, tc and ping.
#
#   ./run.sh [kwf options]          the real sandbox
#   ./run.sh --mock [kwf options]   the quick tour on the mock hypervisor and noop agent (nothing is booted)
#
# KATA_GUEST_DIR names the image directory (default ~/.cache/kata-workflows/guest); KATA_GUEST_NO_BUILD=1 uses the
# image there as it is, without guest/build.sh; KWF_RUN_NO_BUILD=1 skips building the host and kwf.
#
# Everything temporary is removed on exit, also on failure or Ctrl+C (a VM or namespace left by a failed run too).
# Extra arguments go to every kwf call (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

mode=real
if [[ "${1:-}" == "--mock" ]]; then
    mode=mock
    shift
fi

log() { printf '\n[run] %s\n' "$*" >&2; }

log "building the host and kwf (Release)"
[[ -n "${KWF_RUN_NO_BUILD:-}" ]] || dotnet build src/Host/Host.csproj -c Release -v quiet -nologo >&2
[[ -n "${KWF_RUN_NO_BUILD:-}" ]] || dotnet build src/Cli/Cli.csproj -c Release -v quiet -nologo >&2
host_dll="src/Host/bin/Release/net10.0/KataWorkflows.Host.dll"
kwf_dll="src/Cli/bin/Release/net10.0/kwf.dll"

if [[ "$mode" == real ]]; then
    missing=()
    for tool in qemu-system-x86_64 ip tc ping; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) || { log "missing: ${missing[*]} (apt-get install qemu-system-x86 iproute2 iputils-ping), or run ./run.sh --mock"; exit 1; }
    [[ "$(id -u)" == 0 ]] || { log "a real sandbox needs root (network namespaces, veth, tap, bind mounts); or run ./run.sh --mock"; exit 1; }
    guest="${KATA_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kata-workflows/guest}"
    if [[ -n "${KATA_GUEST_NO_BUILD:-}" ]]; then
        # An image built before (e.g. by CI), used as it is.
        [[ -f "$guest/vmlinuz" && -f "$guest/initrd.gz" && -d "$guest/rootfs" ]] || { log "KATA_GUEST_NO_BUILD is set and $guest has no image"; exit 1; }
    else
        log "the guest image in $guest (guest/build.sh: a few minutes the first time, about a second when it is up to date)"
        bash guest/build.sh "$guest" >&2
    fi
fi

# A short directory: the agent and QMP sockets live under it, and a Unix socket path is at most 107 bytes.
work="$(mktemp -d /tmp/kwf-run.XXXXXX)"
host_pid=""
# What the tcfilter driver makes is named with this prefix, so a failed run's leftovers are found and removed.
tag="$(basename "$work" | tr -dc 'a-z0-9' | tail -c 4)"
netns_prefix="kwfrun${tag}-"
device_prefix="r${tag}"
cleanup() {
    local status=$?
    if [[ -n "$host_pid" ]] && kill -0 "$host_pid" 2>/dev/null; then
        log "stopping the host"
        kill -TERM "$host_pid" 2>/dev/null || true
        wait "$host_pid" 2>/dev/null || true
    fi
    if [[ "$mode" == real ]]; then
        # Only after a failure is anything left: the cleanup call removes the sandbox's VM, namespace and mounts.
        local pid ns link mount
        for pid in $(pgrep -f "qemu-system.*$work" || true); do kill -KILL "$pid" 2>/dev/null || true; done
        for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$netns_prefix" || true); do ip netns delete "$ns" || true; done
        for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$device_prefix" || true); do ip link delete "$link" || true; done
        for mount in $(awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do umount -l "$mount" || true; done
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
settings=(
    KataWorkflows__StateDirectory="$work/state"
    KataWorkflows__RunRoot="$work/run"
    KataWorkflows__Listen__UnixSocket="$KWF_SOCKET"
)
if [[ "$mode" == real ]]; then
    # The real drivers are the defaults: a config that names none gets QEMU, the Kata agent and tcfilter, and the
    # guest image's kernel and initramfs.
    settings+=(
        KataWorkflows__Sandboxes__GuestImageDirectory="$guest"
        KataWorkflows__Sandboxes__DefaultMemoryMiB=256
        KataWorkflows__KataAgent__SharedDirectory="$work/shared"
        KataWorkflows__Network__NetnsPrefix="$netns_prefix"
        KataWorkflows__Network__HostDevicePrefix="$device_prefix"
    )
fi
env "${settings[@]}" dotnet "$host_dll" >"$work/host.log" 2>&1 &
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

if [[ "$mode" == real ]]; then
    started=$SECONDS
    cp -a "$guest/rootfs" "$work/rootfs"
    cat >"$work/demo.json" <<JSON
{ "id": "demo", "containers": [ { "id": "web", "rootFs": "$work/rootfs", "cmd": { "args": ["/bin/sleep", "3600"] } } ] }
JSON
    log "run: a sandbox on QEMU with the Kata agent and a network namespace (the config names only the container;
      the host's defaults give it the drivers, kernel and initramfs); the boot under TCG takes a while"
    kwf --request-id demo-run sandbox run --config "$work/demo.json"

    log "container exec: the guest's own kernel (the host runs $(uname -r))"
    kwf container exec --wait demo web -- uname -r
    log "container exec: a command's output in the container"
    kwf container exec --wait demo web -- sh -c 'echo "hello from $(hostname), pid $$"; ls /'

    log "network: the guest's interfaces and routes"
    kwf network ifaces demo
    kwf network routes demo
    guest_ip="$(dotnet "$kwf_dll" --json network ifaces demo | grep -o '"[0-9.]*/[0-9]*"' | tr -d '"' | grep -v '^127\.' | head -n 1 | cut -d/ -f1)"
    log "ping from the host end of the veth to the guest at $guest_ip"
    ping -c 3 -W 10 "$guest_ip"

    log "cleanup: stop and delete the container; with the last one the sandbox, its VM and its namespace go too"
    kwf cleanup demo web
    kwf sandbox list
    if pgrep -f "qemu-system.*$work" >/dev/null || ip netns list | grep -q "^$netns_prefix"; then
        log "something was left behind"
        exit 1
    fi

    log "the run's history"
    kwf wf history RunSandbox:demo:demo-run
    log "done in $((SECONDS - started)) s"
    exit 0
fi

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

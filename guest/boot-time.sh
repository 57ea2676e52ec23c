#!/usr/bin/env bash
# Boots the guest image under QEMU (TCG) N times (default 3) and prints, for each boot, the wall time from QEMU's
# launch to the kernel's first line, to /init, to init starting the agent and to the agent serving, plus the guest
# uptime at which init started the agent. Needs the image: guest/build.sh [DIR] first.
#
#   guest/boot-time.sh [DIR] [N]
set -euo pipefail
image="${1:-${KATA_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kata-workflows/guest}}"
runs="${2:-3}"
[[ -f "$image/vmlinuz" && -f "$image/initrd.gz" ]] || { echo "no image in $image: run guest/build.sh first" >&2; exit 1; }

elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

for ((run = 1; run <= runs; run++)); do
    dir="$(mktemp -d)"
    : >"$dir/console.log"
    start="$(date +%s.%N)"
    qemu-system-x86_64 -machine q35,accel=tcg -m 512 -smp 1 -nographic -nodefaults -no-reboot \
        -serial "file:$dir/console.log" -kernel "$image/vmlinuz" -initrd "$image/initrd.gz" \
        -append "console=ttyS0 panic=-1" -device virtio-serial-pci \
        -chardev "socket,path=$dir/agent.sock,server=on,wait=off,id=agent" \
        -device virtserialport,chardev=agent,name=agent.channel.0 &
    qemu=$!
    line="boot $run:"
    for marker in "Linux version" "Run /init" "[init] starting the agent" "Serving Kata"; do
        for _ in $(seq 1200); do
            grep -qF "$marker" "$dir/console.log" && break
            sleep 0.05
        done
        grep -qF "$marker" "$dir/console.log" || { line+=" '$marker' not seen in 60 s"; break; }
        line+=" $marker $(elapsed "$start") s;"
    done
    echo "$line agent started at guest uptime $(grep -o 'the agent on [^ ]* at [0-9.]* s' "$dir/console.log" | awk '{ print $(NF-1) }') s"
    kill "$qemu"
    wait "$qemu" 2>/dev/null || true
    rm -rf "$dir"
done

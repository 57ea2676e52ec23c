#!/usr/bin/env bash
# Builds the guest image the QEMU driver boots: a Debian kernel, an initramfs (busybox, the kernel modules the
# guest needs, the NativeAOT guest agent and the C libraries it links) and a busybox container rootfs (a directory
# and an ext4 image of it for virtio-blk).
#
#   guest/build.sh [OUTPUT_DIR]        (or KATA_GUEST_DIR=...; default ~/.cache/kata-workflows/guest)
#
# Output: OUTPUT_DIR/vmlinuz, OUTPUT_DIR/initrd.gz, OUTPUT_DIR/rootfs/ (directory), OUTPUT_DIR/rootfs.ext4 and
# OUTPUT_DIR/manifest (what went in). Idempotent: a build whose inputs (package versions, agent sources, this
# script) match the manifest's stamp does nothing. The only downloads are Debian packages fetched with
# `apt-get download` by exact name; they are cached in OUTPUT_DIR/debs.
#
# Environment: KATA_GUEST_KERNEL_PACKAGE (default: what linux-image-amd64 depends on, e.g.
# linux-image-6.1.0-57-amd64; it must be the standard flavour, the cloud one has no 9p), KATA_GUEST_FORCE=1
# rebuilds even when the stamp matches. Needs apt-get, dpkg-deb, cpio, gzip, mkfs.ext4 (e2fsprogs), gcc and the
# .NET SDK on the build machine.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-${KATA_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kata-workflows/guest}}"
log() { printf '[guest] %s\n' "$*" >&2; }
fail() { printf '[guest] error: %s\n' "$*" >&2; exit 1; }

# The modules the guest loads, in an order that modules.dep-style dependencies are resolved from (each module's
# own `depends=` list is read from the .ko, so this list names only what the guest needs directly).
wanted_modules=(virtio_pci virtio_console virtio_net virtio_blk 9pnet_virtio 9p overlay ext4 crc32c_generic)

for tool in apt-get apt-cache dpkg-deb cpio gzip mkfs.ext4 gcc dotnet sha256sum ldd flock; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (apt-get install cpio e2fsprogs gcc; the .NET SDK for dotnet)"
done

mkdir -p "$out/debs"
out="$(cd "$out" && pwd)"

# One build at a time per output directory: a second build (another worktree's test run, CI and a developer) waits,
# then finds the image current instead of writing the same files under the first.
exec 9>"$out/.build.lock"
if ! flock -n 9; then
    log "another build is writing $out; waiting for it"
    flock 9
fi

kernel_package="${KATA_GUEST_KERNEL_PACKAGE:-}"
if [[ -z "$kernel_package" ]]; then
    kernel_package="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
    [[ -n "$kernel_package" ]] || fail "apt-cache does not know linux-image-amd64 (run apt-get update) and KATA_GUEST_KERNEL_PACKAGE is not set"
fi
[[ "$kernel_package" != *cloud* ]] || fail "$kernel_package is the cloud flavour, which has no 9p: use the standard one"
packages=("$kernel_package" busybox-static)

# Candidate version of an exact package name, or a failure naming it.
candidate() {
    local version
    version="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')"
    [[ -n "$version" && "$version" != "(none)" ]] || fail "apt knows no candidate for package $1 (run apt-get update?)"
    printf '%s' "$version"
}

declare -A versions
for package in "${packages[@]}"; do
    versions[$package]="$(candidate "$package")"
done

# The stamp covers every input: the package versions, this script and the agent's sources (and the protocol's).
stamp="$(
    {
        for package in "${packages[@]}"; do echo "$package=${versions[$package]}"; done
        sha256sum "$0"
        find "$repo/src/GuestAgent" "$repo/src/Protocol" "$repo/Directory.Build.props" "$repo/Directory.Packages.props" \
            -type f ! -path '*/obj/*' ! -path '*/bin/*' -print0 | sort -z | xargs -0 sha256sum | sed "s|$repo/||"
    } | sha256sum | cut -d' ' -f1
)"
if [[ "${KATA_GUEST_FORCE:-0}" != 1 && -f "$out/manifest" && -f "$out/vmlinuz" && -f "$out/initrd.gz" \
    && -f "$out/rootfs.ext4" ]] && grep -qx "stamp=$stamp" "$out/manifest"; then
    log "up to date in $out (stamp $stamp)"
    exit 0
fi

# Downloads an exact package version into debs/ unless it is there; never a wildcard (a pattern such as
# 'linux-image-6.1.0-*-amd64' matches dozens of kernels).
fetch() {
    local package="$1" version="$2" file
    file="$out/debs/${package}_${version//:/%3a}_amd64.deb"
    if [[ ! -f "$file" ]]; then
        log "downloading Debian package $package=$version"
        (cd "$out/debs" && apt-get download -q -o APT::Sandbox::User=root "$package=$version" >&2) \
            || fail "apt-get download $package=$version failed"
    fi
    [[ -f "$file" ]] || fail "apt-get download did not write $file"
    printf '%s' "$file"
}

work="$out/work"
rm -rf "$work"
mkdir -p "$work/kernel" "$work/busybox"
log "extracting $kernel_package and busybox-static"
dpkg-deb -x "$(fetch "$kernel_package" "${versions[$kernel_package]}")" "$work/kernel"
dpkg-deb -x "$(fetch busybox-static "${versions[busybox-static]}")" "$work/busybox"
busybox="$work/busybox/bin/busybox"
[[ -x "$busybox" ]] || fail "busybox-static has no bin/busybox"

kernel_version="$(basename "$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")"
[[ -n "$kernel_version" && -f "$work/kernel/boot/vmlinuz-$kernel_version" ]] || fail "$kernel_package has no vmlinuz"
moddir="$work/kernel/lib/modules/$kernel_version"

# Resolves the wanted modules and their dependencies (the `depends=` field of each .ko's modinfo section) into a
# load order: dependencies first, each module once. A module built into the kernel is skipped.
declare -A module_path=() loaded=()
while IFS= read -r path; do
    name="$(basename "$path" .ko)"
    module_path[$name]="$path"
    module_path[${name//-/_}]="$path"
done < <(find "$moddir/kernel" -name '*.ko')
order=()
resolve() {
    local name="${1//-/_}" dependency
    [[ -z "${loaded[$name]:-}" ]] || return 0
    loaded[$name]=1
    if [[ -z "${module_path[$name]:-}" ]]; then
        grep -q "/${1}.ko\$\|/${name}.ko\$" "$moddir/modules.builtin" || fail "module $1 is neither a .ko in $kernel_package nor built in"
        return 0
    fi
    local depends
    depends="$(tr '\0' '\n' <"${module_path[$name]}" | sed -n 's/^depends=//p' | head -n1)"
    for dependency in ${depends//,/ }; do
        resolve "$dependency"
    done
    order+=("$name")
}
for module in "${wanted_modules[@]}"; do
    resolve "$module"
done
log "modules (load order): ${order[*]}"

log "publishing the guest agent (NativeAOT, linux-x64)"
# Its own artifacts folder: a build of the same projects running at the same time (an IDE, the test run) would
# otherwise rewrite the assemblies the AOT compiler is reading.
dotnet publish "$repo/src/GuestAgent/GuestAgent.csproj" -c Release -r linux-x64 -p:PublishAot=true \
    --artifacts-path "$out/build" -o "$work/agent" -nologo -v quiet >&2 || fail "dotnet publish of src/GuestAgent failed"
agent="$work/agent/KataWorkflows.GuestAgent"
[[ -x "$agent" ]] || fail "the publish wrote no $agent"

# initramfs: busybox with a link per applet, the modules flat in one folder with their load order, the agent
# and the shared libraries it links (as ldd resolves them on this machine), and the init script.
root="$work/initramfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc,root,lib/modules/"$kernel_version"}
cp "$busybox" "$root/bin/busybox"
while IFS= read -r applet; do
    [[ "$applet" == busybox || -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
done < <("$busybox" --list)
for name in "${order[@]}"; do
    cp "${module_path[$name]}" "$root/lib/modules/$kernel_version/$name.ko"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/$kernel_version/load-order"
cp "$agent" "$root/usr/bin/kata-agent"
while read -r library; do
    mkdir -p "$root$(dirname "$library")"
    cp -L "$library" "$root$library"
done < <(ldd "$agent" | grep -o '/[^ ]*' | sort -u)
install -m 0755 "$repo/guest/init" "$root/init"
sed -i "s|@KERNEL_VERSION@|$kernel_version|" "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

log "packing the initramfs (cpio newc + gzip)"
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet --reproducible) | gzip -9n >"$work/initrd.gz"

# The container rootfs: busybox and its applets under /bin, the directories an OCI runtime mounts over, and
# users root (0) and nobody (65534).
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root,run,home,var}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
while IFS= read -r applet; do
    [[ "$applet" == busybox || -e "$rootfs/bin/$applet" ]] || ln -s busybox "$rootfs/bin/$applet"
done < <("$busybox" --list)
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
log "writing the container rootfs ext4 image"
mkfs.ext4 -q -F -L kata-rootfs -d "$rootfs" "$work/rootfs.ext4" 32M

# Swap the results in only once everything was built, so a failed build leaves the previous image usable.
rm -rf "$out/rootfs"
mv "$rootfs" "$out/rootfs"
mv "$work/rootfs.ext4" "$out/rootfs.ext4"
cp "$work/kernel/boot/vmlinuz-$kernel_version" "$out/vmlinuz"
mv "$work/initrd.gz" "$out/initrd.gz"
{
    echo "stamp=$stamp"
    echo "kernel_package=$kernel_package=${versions[$kernel_package]}"
    echo "kernel_version=$kernel_version"
    echo "busybox=busybox-static=${versions[busybox-static]}"
    echo "modules=${order[*]}"
    echo "libraries=$(ldd "$agent" | grep -o '/[^ ]*' | sort -u | tr '\n' ' ')"
    echo "initrd_bytes=$(stat -c %s "$out/initrd.gz")"
} >"$out/manifest"
rm -rf "$work"
log "built $out: vmlinuz ($kernel_version), initrd.gz, rootfs/, rootfs.ext4"

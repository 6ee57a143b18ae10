# shellcheck shell=bash
# Shared by tests/vm/run and tests/vm/fetch-kernel (bash, sourced).

VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # used by the scripts sourcing this
VM_CACHE=${GRANTD_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/grantd-vm}
VM_BUSYBOX=/bin/busybox   # from busybox-static

# Echoes the path of the initramfs for prepared kernel dir $1, building it
# first if needed. Keyed by a hash of everything that goes into it, so an
# edited init script or a new busybox gets a fresh image while concurrent runs
# keep using theirs.
vm_initramfs() {
    local kdir=$1 key out tmp f
    # A dynamic busybox would find no libc in the initramfs.
    if ! [ -x "$VM_BUSYBOX" ] || [[ "$(LC_ALL=C ldd "$VM_BUSYBOX" 2>&1)" != *"not a dynamic"* ]]; then
        echo "grantd-vm: $VM_BUSYBOX is not a static busybox (install busybox-static)" >&2
        return 1
    fi
    key=$( { sha256sum "$VM_LIB_DIR/init" "$VM_BUSYBOX" | cut -d' ' -f1
             cat "$kdir/initramfs-modules/load-order"; } | sha256sum | cut -c1-16)
    out=$kdir/initramfs-$key.cpio
    if [ -s "$out" ]; then
        echo "$out"
        return 0
    fi
    tmp=$(mktemp -d "$kdir/.initramfs.XXXXXX")
    (
        set -e
        mkdir -p "$tmp/root"/{bin,dev,proc,sys,lib/modules}
        cp "$VM_BUSYBOX" "$tmp/root/bin/busybox"
        for f in sh mount insmod mkdir cp ln switch_root poweroff sleep; do
            ln -s busybox "$tmp/root/bin/$f"
        done
        install -m 0755 "$VM_LIB_DIR/init" "$tmp/root/init"
        cp "$kdir"/initramfs-modules/* "$tmp/root/lib/modules/"
        # Uncompressed: under TCG the kernel would spend longer inflating the
        # image than reading these few MB.
        cd "$tmp/root"
        find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet > "$tmp/image.cpio"
    ) || { rm -rf "$tmp"; echo "grantd-vm: building initramfs failed" >&2; return 1; }
    mv -f "$tmp/image.cpio" "$out"
    rm -rf "$tmp"
    # Images for older init scripts; QEMU reads its image at start-up, so
    # only a run starting this very moment could still want one.
    find "$kdir" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${out##*/}" -mmin +60 -delete 2>/dev/null || true
    echo "$out"
}

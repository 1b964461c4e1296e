#!/usr/bin/env bash
# bench/boot: how fast and how small an oasis kvm unikernel is.
#   - wall time from exec of oasis-vmm to the exit of examples/noop (hyperfine,
#     median of $RUNS runs), for oasis-vmm as `cargo build --release` links it
#     (dynamically, against glibc) and as a deployment would ship it (glibc
#     linked statically: no dynamic loader at start), beside QEMU -M microvm
#     booting a trivial PVH guest when qemu-system-x86_64 is installed;
#   - the size of examples/hello's image, stripped;
#   - oasis-vmm's peak RSS running noop and hello;
#   - what one exit to the VMM costs, seen from the guest
#     (crates/oasis-test-guests exit-cost: one-sector block reads, writes and
#     write+flush pairs on a file in /var/tmp).
# Needs: hyperfine (Debian), /dev/kvm; optional: qemu-system-x86 (Debian), binutils.
# Usage: bench/boot/run.sh            (RUNS=50; CPU=N pins the runs to core N)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-50}
CPU=${CPU:-}
out=$(mktemp -d /tmp/oasis-bench-boot.XXXXXX)
trap 'rm -rf "$out"' EXIT

command -v hyperfine >/dev/null || { echo "bench/boot: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
[ -r /dev/kvm ] || { echo "bench/boot: skipped: no /dev/kvm" >&2; exit 0; }

cargo build -q --release -p oasis-vmm -p oasis-cli
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
vmm="$target_dir/release/oasis-vmm"
# The static build needs an explicit --target: with crt-static on the host
# target, cargo would build proc-macros static too, which cannot be.
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release -p oasis-vmm --target x86_64-unknown-linux-gnu
vmm_static="$target_dir/x86_64-unknown-linux-gnu/release/oasis-vmm"
oasis="$target_dir/release/oasis"
noop=$("$oasis" build examples/noop --target kvm 2>/dev/null)
hello=$("$oasis" build examples/hello --target kvm 2>/dev/null)
exit_cost=$("$oasis" build crates/oasis-test-guests --bin exit-cost --target kvm 2>/dev/null)

# hyperfine runs pinned and its children inherit the CPU; a `taskset` per
# run would add an exec of its own to every measurement.
cmds=("$vmm $noop" "$vmm_static $noop")
names=("oasis-vmm noop" "oasis-vmm (static) noop")
if command -v qemu-system-x86_64 >/dev/null && command -v as >/dev/null; then
    as --32 -o "$out/pvh-exit.o" bench/boot/pvh-exit.S
    ld -m elf_i386 -Ttext=0x100000 -o "$out/pvh-exit.elf" "$out/pvh-exit.o"
    cmds+=("qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off -enable-kvm -cpu qemu64 -m 32 -nodefaults -no-user-config -display none -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel $out/pvh-exit.elf")
    names+=("qemu microvm, trivial PVH guest")
else
    echo "bench/boot: qemu-system-x86_64 not installed: QEMU comparison skipped" >&2
fi

args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
pin=()
[ -n "$CPU" ] && pin=(taskset -c "$CPU")
"${pin[@]}" hyperfine -N -i --warmup 5 --runs "$RUNS" --export-json "$out/boot.json" "${args[@]}" >&2

strip -o "$out/hello.stripped" "$hello"
size=$(stat -c %s "$out/hello.stripped")
rss_noop=$(/usr/bin/time -f %M "$vmm" "$noop" 2>&1 >/dev/null | tail -1)
rss_hello=$(/usr/bin/time -f %M "$vmm" "$hello" 2>&1 >/dev/null | tail -1)
rss_static=$(/usr/bin/time -f %M "$vmm_static" "$hello" 2>&1 >/dev/null | tail -1)
disk=$(mktemp /var/tmp/oasis-exit-cost.XXXXXX)
truncate -s 1M "$disk"
exits=$("$vmm_static" "--block:storage=$disk" "$exit_cost" | sed -n 's/.*exit cost: //p')
rm -f "$disk"

python3 - "$out/boot.json" "$size" "$rss_noop" "$rss_hello" "$RUNS" "$CPU" "$rss_static" "$exits" <<'PY'
import json, sys
boot, size, rss_noop, rss_hello, runs, cpu, rss_static, exits = sys.argv[1:]
where = f"pinned to CPU {cpu}" if cpu else "not pinned"
print(f"boot, exec to exit, median of {runs} runs, {where} (load average at start: {open('/proc/loadavg').read().split()[0]}):")
for r in json.load(open(boot))["results"]:
    cpu_ms = (r["user"] + r["system"]) * 1e3
    print(f"  {r['command'][:40]:40}  median {r['median']*1e3:7.2f} ms  (min {r['min']*1e3:.2f}, max {r['max']*1e3:.2f}; CPU user+sys mean {cpu_ms:.2f} ms)")
print(f"hello image, stripped: {int(size)} bytes ({int(size)/1024:.1f} KiB; target <= 128 KiB)")
print(f"oasis-vmm peak RSS: noop {int(rss_noop)} KiB, hello {int(rss_hello)} KiB, hello under the static build {int(rss_static)} KiB (target <= 4096 KiB)")
print(f"one exit, as the guest sees it (static oasis-vmm): {exits}")
PY

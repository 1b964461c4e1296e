#!/usr/bin/env bash
# bench/store: the same storage workload on oasis-store in a kvm unikernel,
# on oasis-store hosted (the same application as a Linux process), and on
# SQLite (rusqlite, WAL, synchronous=FULL). Prints medians of RUNS runs as a
# Markdown table. See bench/README.md, section "store".
#
# usage: bench/store/run.sh [RUNS] [records batch singles gets queries]
#        (OASIS_VMM=PATH to use an oasis-vmm binary built elsewhere)
set -euo pipefail
runs=${1:-5}
shift || true
records=${1:-100000} batch=${2:-1000} singles=${3:-1000} gets=${4:-100000} queries=${5:-1000}

root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
benchdir="$target/bench-store"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/oasis-store-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "building (release)..." >&2
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$root/bench/store" && CARGO_TARGET_DIR="$benchdir" cargo build -q --release -p sqlite-bench -p store-bench)
(cd "$root/bench/store" && CARGO_TARGET_DIR="$benchdir" cargo build -q --release -p store-bench --target x86_64-unknown-none)
# OASIS_VMM=path uses an oasis-vmm built elsewhere.
if [ -z "${OASIS_VMM:-}" ]; then
  (cd "$root" && CARGO_TARGET_DIR="$target" cargo build -q --release -p oasis-vmm)
fi
sqlite="$benchdir/release/sqlite-bench"
hosted="$benchdir/release/store-bench"
image="$benchdir/x86_64-unknown-none/release/store-bench"
vmm=${OASIS_VMM:-$target/release/oasis-vmm}

# Pin to one core so runs compare; the machine has few.
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then pin=(taskset -c 1); fi

# Bytes an oasis-store image uses: data offset + data length from its
# superblock. The log region at the end of the device is not counted: after
# the clean close every run ends with it holds nothing (a checkpoint emptied
# it), as SQLite's WAL holds nothing after its closing TRUNCATE checkpoint.
store_size() {
  od -A n -t u8 -j 16 -N 16 "$1" | awk '{print $1 + $2}'
}

fresh_disk() {
  rm -f "$1"
  truncate -s 2G "$1"
}

boot_args=(--records="$records" --batch="$batch" --singles="$singles" --gets="$gets" --queries="$queries")
results="$work/results"
: > "$results"
for r in $(seq 1 "$runs"); do
  echo "run $r/$runs" >&2
  db="$work/sqlite.db"; rm -f "$db" "$db-wal" "$db-shm"
  "${pin[@]}" "$sqlite" "$db" "$records" "$batch" "$singles" "$gets" "$queries" | sed "s/^/sqlite /" >> "$results"

  disk="$work/hosted.img"; fresh_disk "$disk"
  "${pin[@]}" "$hosted" --block:storage="$disk" -- "${boot_args[@]}" | sed "s/^/hosted /" >> "$results"
  echo "hosted SIZE $(store_size "$disk")" >> "$results"

  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    disk="$work/kvm.img"; fresh_disk "$disk"
    "${pin[@]}" "$vmm" --mem=512 --block:storage="$disk" "$image" -- "${boot_args[@]}" | sed "s/^/kvm /" >> "$results"
    echo "kvm SIZE $(store_size "$disk")" >> "$results"
  fi
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$runs" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
sizes = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[1] == "RESULT":
        rows[(f[0], f[2])].append(int(f[3]) * 1e9 / int(f[4]))
    elif len(f) == 3 and f[1] == "SIZE":
        sizes[f[0]].append(int(f[2]))
systems = [s for s in ("kvm", "hosted", "sqlite") if any(k[0] == s for k in rows)]
names = {"kvm": "oasis-store, kvm unikernel", "hosted": "oasis-store, hosted", "sqlite": "SQLite (WAL, sync=FULL)"}
phases = [("insert_batched", "inserts, batches of 1000 (records/s)"),
          ("insert_single_durable", "single-record durable commits (/s)"),
          ("get", "point gets by key (/s)"),
          ("range_query", "indexed range queries age > X (/s)"),
          ("open", "open or create, once (ms)"),
          ("close", "close, once (ms)")]
print("| workload: median (min–max) of %s runs | %s |" % (sys.argv[2], " | ".join(names[s] for s in systems)))
print("|---|" + "---|" * len(systems))
for p, label in phases:
    cells = []
    for s in systems:
        v = rows.get((s, p))
        if not v:
            cells.append("-")
        elif p in ("open", "close"):
            cells.append("%.1f" % (1000 / statistics.median(v)))
        else:
            cells.append("%.0f (%.0f–%.0f)" % (statistics.median(v), min(v), max(v)))
    print("| %s | %s |" % (label, " | ".join(cells)))
cells = []
for s in systems:
    v = sizes.get(s)
    cells.append("%.1f MiB" % (statistics.median(v) / 2**20) if v else "-")
print("| storage used | %s |" % " | ".join(cells))
# Runs are interleaved (kvm, hosted and SQLite one after another), so the
# ratio within each run is steadier than a ratio of medians on a machine
# whose speed moves between runs.
targets = {("insert_batched", "hosted"): 0.9, ("insert_batched", "sqlite"): 1.0}
print()
for p, label in phases[:4]:
    for other in ("hosted", "sqlite"):
        k, o = rows.get(("kvm", p)), rows.get((other, p))
        if not k or not o or len(k) != len(o):
            continue
        r = [a / b for a, b in zip(k, o)]
        target = targets.get((p, other))
        print("- kvm ÷ %s, %s: %.2f× (median of the per-run ratios %s)%s" % (
            other, label, statistics.median(r), ", ".join("%.2f" % v for v in r),
            "; target ≥ %.1f" % target if target else ""))
PY

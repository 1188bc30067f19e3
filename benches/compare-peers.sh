#!/usr/bin/env bash
# Runs, one after the other on this machine, the three implementations of the reference pool
# (scenarios/bench/peer-pool.toml) at the same number of paths, and prints paths/s and ratios:
#   - ipabs itself (the whole engine: draws, tiers, waterfall, every statistic of summary.json);
#   - the NumPy peer (peers/numpy_pool.py, in a virtual environment with numpy from PyPI);
#   - the allocation-free Rust limit kernel (peers/limit, built here).
# Usage: benches/compare-peers.sh [PATHS] [THREADS]   (defaults 4000000 and 2)
# The peers live in the shared folder beside the repository; set PEERS=DIR to point elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
paths="${1:-4000000}"
threads="${2:-2}"
peers="${PEERS:-../shared/peers}"
work="${TMPDIR:-/tmp}/ipabs-compare-peers"
mkdir -p "$work"

if [ ! -f "$peers/numpy_pool.py" ] || [ ! -f "$peers/limit/Cargo.toml" ]; then
  echo "peers not found in $peers (set PEERS=DIR)" >&2
  exit 2
fi

echo "building ipabs and the limit kernel (release)..." >&2
cargo build --release --quiet
CARGO_TARGET_DIR="$work/limit-target" cargo build --release --quiet --manifest-path "$peers/limit/Cargo.toml"
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/python" -m pip install --quiet numpy threadpoolctl
fi

echo "ipabs..." >&2
rm -rf "$work/ipabs-out"
./target/release/ipabs run scenarios/bench/peer-pool.toml --paths "$paths" --threads "$threads" \
  --quiet --out "$work/ipabs-out"
echo "NumPy peer..." >&2
"$work/venv/bin/python" "$peers/numpy_pool.py" --paths "$paths" --seed 42 --json "$work/numpy.json" >/dev/null
echo "limit kernel..." >&2
"$work/limit-target/release/pool-limit" --paths "$paths" --seed 42 --threads "1,$threads" \
  --gens zig-xoshiro --normals 0 --json "$work/limit.json" >/dev/null

python3 - "$work" "$paths" "$threads" <<'PY'
import json, sys
work, paths, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = json.load(open(f"{work}/ipabs-out/summary.json"))
ipabs = paths / s["elapsed_s"]
numpy = json.load(open(f"{work}/numpy.json"))["paths_per_sec"]
limit = {t["threads"]: t["paths_per_sec"] for t in json.load(open(f"{work}/limit.json"))["timings"]}
lim = limit[threads]
print(f"reference pool, {paths:,} paths, {threads} threads")
print(f"  ipabs (whole engine)     {ipabs/1e6:8.2f} M paths/s")
print(f"  limit kernel             {lim/1e6:8.2f} M paths/s  (1 thread: {limit[1]/1e6:.2f} M)")
print(f"  NumPy peer               {numpy/1e6:8.2f} M paths/s")
print(f"  ipabs / limit kernel     {ipabs/lim:8.2f}")
print(f"  ipabs / NumPy            {ipabs/numpy:8.2f}")
PY

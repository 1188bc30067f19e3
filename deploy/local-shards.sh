#!/usr/bin/env bash
# Runs N shards of a scenario as parallel processes on this machine, then merges them.
# Usage: deploy/local-shards.sh SCENARIO N PATHS OUT [PARALLEL]
set -euo pipefail
scenario="$1"; shards="$2"; paths="$3"; out="$4"; parallel="${5:-2}"
ipabs="${IPABS:-ipabs}"
work="$out.shards"
mkdir -p "$work"
seq 1 "$shards" | xargs -P "$parallel" -I{} \
  "$ipabs" run "$scenario" --paths "$paths" --threads 1 --shard "{}/$shards" --quiet --out "$work/shard-{}"
parts=()
for i in $(seq 1 "$shards"); do parts+=("$work/shard-$i"); done
"$ipabs" merge "${parts[@]}" --out "$out"

"""Runs the shards of one ipabs run as Ray tasks and merges them: the merged summary is the
single-machine run's, bit for bit (`elapsed_s` and `threads` aside).

    python deploy/ray/run_shards.py SCENARIO --shards N [--paths P] [--seed S]
        [--threads-per-shard T] [--address ADDR] [--out summary.json]

Without --address, Ray starts a single-node instance on this machine (its "local" use: Ray 2.x
no longer has `local_mode`); with one (e.g. `auto` on a cluster node) it joins that cluster.
Each shard is one task (`num_cpus=T`) calling `ipabs.run_shard`, which returns the partial
result as two byte strings; the driver gathers them and calls `ipabs.merge`. Workers read the
scenario from SCENARIO, so on a cluster it must be on storage every node sees (as with the
Slurm and Kubernetes files); the partials carry the scenario's text, so the merge needs
nothing else. The ipabs module must be installed on every node (`maturin build --release`,
then `pip install` the wheel).
"""

import argparse
import json
import sys
import time

import ray

import ipabs


@ray.remote
def shard(scenario, index, count, paths, seed, threads):
    """Partial result of shard `index` of `count`: {"partial.json": bytes, "partial.bin": bytes}."""
    return ipabs.run_shard(scenario, index, count, paths=paths, seed=seed, threads=threads)


def run(scenario, shards, paths=None, seed=None, threads=1):
    """The merged ipabs.RunResult (summary only) of `shards` Ray tasks; Ray must be started."""
    task = shard.options(num_cpus=threads)
    futures = [task.remote(scenario, i, shards, paths, seed, threads) for i in range(1, shards + 1)]
    return ipabs.merge(ray.get(futures), per_path=False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", help="the scenario file (TOML), readable by every worker")
    p.add_argument("--shards", type=int, required=True, help="number of shards (Ray tasks)")
    p.add_argument("--paths", type=int, help="overrides [simulation] paths")
    p.add_argument("--seed", type=int, help="overrides [simulation] seed")
    p.add_argument("--threads-per-shard", type=int, default=1, help="threads (and Ray CPUs) per task")
    p.add_argument("--address", help="a Ray cluster to join (default: start one on this machine)")
    p.add_argument("--out", help="write the merged summary here as JSON")
    args = p.parse_args(argv)

    start = time.monotonic()
    ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    try:
        merged = run(args.scenario, args.shards, args.paths, args.seed, args.threads_per_shard)
    finally:
        ray.shutdown()
    s = merged.summary
    if args.out:
        with open(args.out, "w") as f:
            json.dump(s, f, indent=2)
            f.write("\n")
    print(
        f"{s['scenario']}: {s['paths']} paths in {args.shards} Ray tasks, merged in "
        f"{time.monotonic() - start:.1f} s; mean pool loss {s['pool_loss']['mean']:.2f} "
        f"(se {s['pool_loss']['se_mean']:.2f}) {s['currency']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

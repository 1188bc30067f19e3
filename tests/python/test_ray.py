"""The Ray example (deploy/ray/run_shards.py): shards as Ray tasks on a Ray instance started on
this machine, merged into the single-machine summary. Skipped where Ray does not install."""

import json
import subprocess
import sys

import pytest

import ipabs
from conftest import PATHS, ROOT, SEED, STRESSED, without

try:
    import ray  # noqa: F401

    RAY = None
except Exception as e:  # ImportError, or a broken install
    RAY = f"Ray is not installed here ({type(e).__name__}: {e}); `pip install ray` to run the Ray example"


@pytest.mark.skipif(RAY is not None, reason=RAY or "")
def test_ray_shards_merge_into_the_single_run(tmp_path):
    out = tmp_path / "summary.json"
    o = subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "ray" / "run_shards.py"),
            str(STRESSED),
            "--shards",
            "3",
            "--paths",
            str(PATHS),
            "--seed",
            str(SEED),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert o.returncode == 0, o.stderr[-3000:]
    assert "30000 paths in 3 Ray tasks" in o.stdout
    merged = json.loads(out.read_text())
    single = ipabs.run(STRESSED, paths=PATHS, seed=SEED, per_path=False).summary
    assert without(merged, "elapsed_s", "threads") == without(single, "elapsed_s", "threads")

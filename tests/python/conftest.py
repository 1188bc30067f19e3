"""Shared fixtures of the Python tests: the repository, the command-line binary to compare with,
and small helpers. Run from the repository root after `maturin develop --release`:

    python -m pytest tests/python

The binary is `$IPABS` if set, else `target/release/ipabs` (built with `cargo build --release`
when missing).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
BAD = ROOT / "tests" / "bad_scenarios"

# A scenario with every feature (t copula, two tiers, undertaker, two tranches) and high default
# rates, so every column has many non-baseline paths; 30,000 paths is 8 blocks (the last partial).
STRESSED = DATA / "stressed.toml"
PATHS = 30_000
SEED = 4


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    """Every test runs in the repository root, where relative scenario paths point."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def cli():
    """A function running the ipabs binary; returns the CompletedProcess (text mode)."""
    exe = Path(os.environ.get("IPABS", ROOT / "target" / "release" / "ipabs"))
    if not exe.exists():
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)

    def run(*args):
        return subprocess.run(
            [str(exe), *map(str, args)], cwd=ROOT, capture_output=True, text=True
        )

    return run


@pytest.fixture(scope="session")
def cli_summary(cli, tmp_path_factory):
    """summary.json of `ipabs run` for (scenario, paths, seed, *extra flags), cached."""
    cache = {}

    def summary(scenario, paths=PATHS, seed=SEED, *extra):
        key = (str(scenario), paths, seed, extra)
        if key not in cache:
            out = tmp_path_factory.mktemp("cli")
            o = cli("run", scenario, "--paths", paths, "--seed", seed, "-q", "--out", out, *extra)
            assert o.returncode == 0, o.stderr
            cache[key] = json.loads((out / "summary.json").read_text())
        return cache[key]

    return summary


def without(d, *keys):
    """A copy of the dict `d` without `keys` (dotted for nested dicts, e.g. `manifest.x`)."""
    d = json.loads(json.dumps(d))
    for key in keys:
        *path, last = key.split(".")
        inner = d
        for k in path:
            inner = inner[k]
        inner.pop(last, None)
    return d

"""The Python module against the command line: the same summary bit for bit, per-path arrays
that reproduce the summary's figures, dict input, the command line's error messages, and
shards merged back into the single run."""

import json
import math
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
from fractions import Fraction

import numpy as np
import pytest

import ipabs
from conftest import BAD, PATHS, ROOT, SEED, STRESSED, without


@pytest.fixture(scope="module")
def stressed():
    return ipabs.run(str(STRESSED), paths=PATHS, seed=SEED)


def test_summary_is_the_cli_summary_bit_for_bit(stressed, cli_summary):
    # Every number compared exactly (json floats round-trip exactly); only the timing differs.
    assert without(stressed.summary, "elapsed_s") == without(cli_summary(STRESSED), "elapsed_s")


def test_thread_count_changes_nothing(stressed):
    one = ipabs.run(STRESSED, paths=PATHS, seed=SEED, threads=1)
    assert without(one.summary, "elapsed_s", "threads") == without(
        stressed.summary, "elapsed_s", "threads"
    )
    for name, values in stressed.paths.items():
        assert np.array_equal(one.paths[name], values), name


def test_a_precision_target_runs_the_cli_loop(cli_summary):
    # The doubling loop lives in the library: --until-se on the command line and target_se in a
    # dict give the same summary (the file's hash aside).
    metric, se = "pool_loss.mean", 10_000.0  # about 2.6 times below the first run's
    scenario = tomllib.loads(STRESSED.read_text())
    scenario["simulation"]["target_se"] = {"metric": metric, "value": se}
    py = ipabs.run(scenario, paths=5000, seed=SEED, per_path=False).summary
    cli = cli_summary(STRESSED, 5000, SEED, "--until-se", f"{metric}={se}")
    assert py["precision_target"]["reached"]
    assert py["paths"] > 5000, "the target needs more than the first 5000 paths"
    assert without(py, "elapsed_s", "manifest.scenario_sha256") == without(
        cli, "elapsed_s", "manifest.scenario_sha256"
    )


def var(values, q):
    """VaR_q as ipabs defines it: x(max(1, ceil(q n))) of the sorted samples, exactly."""
    x = np.sort(values)
    k = max(1, math.ceil(Fraction(q) * len(x)))
    return float(x[k - 1])


def cents(x):
    """A money order statistic as the summary gives it: snapped to the whole cent (half to even)
    it is within 1e-12 (relative) of, else unchanged."""
    x = float(x)
    cent = float(np.round(100.0 * x) / 100.0)
    return cent + 0.0 if abs(x - cent) <= 1e-12 * max(abs(x), 1.0) else x


def test_per_path_arrays_reproduce_the_summary(stressed):
    s, p = stressed.summary, stressed.paths
    assert all(a.dtype == np.float64 and a.shape == (PATHS,) for a in p.values())
    n_parties = sum(1 for _ in s["guarantors"])
    assert len(p) == 12 + 6 * n_parties + 2 * len(s["tranches"])

    def check(dist, values, money=True):
        # The summary sums with compensation; numpy's pairwise sum agrees to a few ulps of the
        # total, far below 1e-12 relative. Money order statistics are snapped to the cent.
        exact = cents if money else float
        assert dist["mean"] == pytest.approx(values.mean(), rel=1e-12, abs=1e-9)
        assert dist["std"] == pytest.approx(values.std(ddof=1), rel=1e-9, abs=1e-9)
        assert dist["min"] == exact(values.min()) and dist["max"] == exact(values.max())
        for q, v in dist["quantiles"].items():
            assert v == exact(var(values, q)), q

    check(s["pool_loss"], p["pool_loss"])
    check(s["gross_default_loss"], p["gross_default_loss"])
    check(s["defaults"], p["defaults"], money=False)
    check(s["guarantor_shortfall"], p["guarantor_shortfall"])
    check(s["undertaker_draw"], p["undertaker_draw"])
    for k, g in enumerate(s["guarantors"]):
        check(g["payout"], p[f"party{k}.payout"])
        check(g["shortfall"], p[f"party{k}.shortfall"])
        assert g["p_cap_exhausted"] == p[f"party{k}.cap_exhausted"].mean()
        # The exposure view's timing: the share of paths whose cap first bound in period t.
        out = p[f"party{k}.cap_out_period"]
        for t, share in enumerate(g["exposure"]["p_cap_exhausted_in_period"], start=1):
            assert share == pytest.approx(np.count_nonzero(out == t) / PATHS, abs=1e-15), (k, t)
    for j, t in enumerate(s["tranches"]):
        check(t["principal_loss"], p[f"tranche{j}.principal_loss"])
        check(t["interest_shortfall"], p[f"tranche{j}.interest_shortfall"])
    # Counts: exact proportions.
    assert s["p_any_default"] == np.count_nonzero(p["defaults"] > 0) / PATHS
    assert s["p_any_default"] > 0.5, "a stressed deal: most paths see a default"


def test_the_gil_is_released_while_simulating():
    # Another Python thread keeps running while a run of about a second is under way.
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    t = threading.Thread(target=tick)
    t.start()
    started = time.monotonic()
    ipabs.run(STRESSED, paths=200_000, seed=SEED, threads=1, per_path=False)
    finished = time.monotonic()
    done.set()
    t.join()
    during = [x for x in ticks if started < x < finished]
    assert finished - started > 0.1
    assert len(during) >= 10, f"{len(during)} ticks in {finished - started:.2f} s"


def test_per_path_false_keeps_the_summary(stressed):
    r = ipabs.run(STRESSED, paths=PATHS, seed=SEED, per_path=False)
    assert r.paths == {}
    assert without(r.summary, "elapsed_s") == without(stressed.summary, "elapsed_s")


def test_a_dict_is_the_file(stressed):
    scenario = tomllib.loads(STRESSED.read_text())
    r = ipabs.run(scenario, paths=PATHS, seed=SEED)
    # The hash is of the TOML text the dict was written as, not of the file.
    assert r.summary["manifest"]["scenario_sha256"] != stressed.summary["manifest"]["scenario_sha256"]
    assert without(r.summary, "elapsed_s", "manifest.scenario_sha256") == without(
        stressed.summary, "elapsed_s", "manifest.scenario_sha256"
    )
    assert r.paths.keys() == stressed.paths.keys()
    for name, values in r.paths.items():
        assert np.array_equal(values, stressed.paths[name]), name


def test_validate_returns_the_cli_counts(cli):
    o = cli("validate", STRESSED)
    assert o.returncode == 0
    v = ipabs.validate(STRESSED)
    assert f"ok ({v['firms']} firms, {v['tiers']} tiers, {v['tranches']} tranches, {v['paths']} paths)" in o.stdout
    assert v["name"] == "stressed"


BAD_FILES = sorted(BAD.glob("*.toml"))


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_errors_carry_the_cli_message(path, cli):
    rel = path.relative_to(ROOT)
    o = cli("validate", rel)
    assert o.returncode == 2
    with pytest.raises(ipabs.ScenarioError) as e:
        ipabs.validate(str(rel))
    assert str(e.value) == o.stderr.rstrip()
    assert isinstance(e.value, ValueError)


def test_run_raises_the_cli_message(cli):
    rel = (BAD / "many_problems.toml").relative_to(ROOT)
    o = cli("run", rel, "--paths", 10, "-q", "--out", "/nonexistent/never-written")
    assert o.returncode == 2
    with pytest.raises(ipabs.ScenarioError, match="simulation.paths") as e:
        ipabs.run(str(rel), paths=10)
    assert str(e.value) == o.stderr.rstrip()
    missing = "tests/data/no-such-file.toml"
    o = cli("run", missing, "-q")
    with pytest.raises(OSError) as e:
        ipabs.run(missing)
    assert str(e.value) == o.stderr.rstrip()
    with pytest.raises(ValueError, match="at least 1"):
        ipabs.run(STRESSED, paths=0)
    with pytest.raises(TypeError, match="path"):
        ipabs.run(42)


def test_dict_errors_are_located_by_key_path():
    # The file's problems, each `file:line:col: key: message`, become `<dict>: key: message`.
    path = BAD / "many_problems.toml"
    with pytest.raises(ipabs.ScenarioError) as from_file:
        ipabs.validate(path)
    expected = sorted(
        "<dict>:" + line.split(":", 3)[3]
        for line in str(from_file.value).splitlines()
        if line.startswith(str(path))
    )
    assert len(expected) == 5
    with pytest.raises(ipabs.ScenarioError) as from_dict:
        ipabs.validate(tomllib.loads(path.read_text()))
    assert sorted(str(from_dict.value).splitlines()) == expected

    scenario = tomllib.loads(STRESSED.read_text())
    scenario["firms"][1]["annual_pd"] = None
    with pytest.raises(ipabs.ScenarioError, match=r"^<dict>: firms\[1\]\.annual_pd: a NoneType value"):
        ipabs.validate(scenario)


def test_shards_merge_into_the_single_run_bit_for_bit(stressed):
    for n in (1, 3, 7):
        parts = [ipabs.run_shard(STRESSED, i, n, paths=PATHS, seed=SEED) for i in range(1, n + 1)]
        assert all(set(p) == {"partial.json", "partial.bin"} for p in parts)
        merged = ipabs.merge(reversed(parts))  # any order
        assert without(merged.summary, "elapsed_s", "threads") == without(
            stressed.summary, "elapsed_s", "threads"
        ), f"{n} shards"
        for name, values in stressed.paths.items():
            assert np.array_equal(merged.paths[name], values), (n, name)


def test_python_shards_merge_with_the_cli(tmp_path, cli, stressed):
    # Partials written from Python are the command line's folders: `ipabs merge` takes them.
    dirs = []
    for i in (1, 2):
        d = tmp_path / f"shard{i}"
        d.mkdir()
        for name, data in ipabs.run_shard(str(STRESSED), i, 2, paths=PATHS, seed=SEED).items():
            (d / name).write_bytes(data)
        dirs.append(d)
    assert without(ipabs.merge(dirs).summary, "elapsed_s", "threads") == without(
        stressed.summary, "elapsed_s", "threads"
    )
    o = cli("merge", "-q", "--out", tmp_path / "merged", *dirs)
    assert o.returncode == 0, o.stderr
    cli_merged = json.loads((tmp_path / "merged" / "summary.json").read_text())
    assert without(cli_merged, "elapsed_s", "threads") == without(stressed.summary, "elapsed_s", "threads")


def test_wrong_partials_are_refused():
    parts = [ipabs.run_shard(STRESSED, i, 3, paths=PATHS, seed=SEED) for i in (1, 2, 3)]
    with pytest.raises(ipabs.MergeError, match=r"^shard 3/3 is missing$"):
        ipabs.merge(parts[:2])
    with pytest.raises(ipabs.MergeError, match=r"shard 1/3 is given twice: parts\[0\] and parts\[1\]"):
        ipabs.merge([parts[0], parts[0], parts[1], parts[2]])
    other = ipabs.run_shard(STRESSED, 3, 3, paths=PATHS, seed=SEED + 1)
    with pytest.raises(ipabs.MergeError, match=r"the seed differs"):
        ipabs.merge([parts[0], parts[1], other])
    damaged = dict(parts[1])
    damaged["partial.bin"] = bytes([damaged["partial.bin"][0] ^ 1]) + damaged["partial.bin"][1:]
    with pytest.raises(ipabs.MergeError, match=r"^parts\[1\]: .*damaged"):
        ipabs.merge([parts[0], damaged, parts[2]])
    with pytest.raises(ipabs.MergeError, match="no partial results"):
        ipabs.merge([])
    with pytest.raises(ValueError, match="shard 4/3"):
        ipabs.run_shard(STRESSED, 4, 3)


def test_ctrl_c_stops_a_run():
    # A run far longer than the test, interrupted after it started: KeyboardInterrupt, promptly.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import signal, sys, ipabs
                signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignored
                print("started", flush=True)
                try:
                    ipabs.run({str(STRESSED)!r}, paths=5_000_000, per_path=False)
                except KeyboardInterrupt:
                    print("interrupted", flush=True)
                    sys.exit(3)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "started"
    time.sleep(1.0)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 3 and "interrupted" in out
    assert time.monotonic() - sent < 20, "stops between blocks, not at the end"


def test_the_type_stub_matches_the_module():
    import ast
    import inspect

    stub = ast.parse((ROOT / "ipabs.pyi").read_text())
    functions = {f.name: f for f in stub.body if isinstance(f, ast.FunctionDef)}
    classes = {c.name for c in stub.body if isinstance(c, ast.ClassDef)}
    assert set(functions) == {"run", "validate", "run_shard", "merge"}
    assert classes == {"ScenarioError", "MergeError", "RunResult"}
    for name, f in functions.items():
        params = list(inspect.signature(getattr(ipabs, name)).parameters)
        assert [a.arg for a in f.args.args] == params, name
    for name in classes:
        assert isinstance(getattr(ipabs, name), type), name

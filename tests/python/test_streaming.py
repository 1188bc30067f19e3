"""Streamed runs and the memory limit from Python: `streaming=True` and `streaming="auto"` give
the command line's streamed summary.json bit for bit, `max_memory=` (or the scenario's
`[simulation] max_memory`) decides between stored and streamed as `ipabs run --max-memory` does,
the per-path arrays count in the estimate, and runs that cannot be streamed are refused."""

import re
import tomllib

import pytest

import ipabs
from conftest import PATHS, SEED, STRESSED, without

# Below the 32 MiB every stored run is estimated to need for the program itself: never fits.
TIGHT = "16MiB"
ROOMY = "4GiB"


def test_streaming_true_is_the_cli_streamed_run(cli_summary):
    r = ipabs.run(STRESSED, paths=PATHS, seed=SEED, streaming=True)
    assert r.paths is None
    assert "columns=None (streamed)" in repr(r)
    assert r.summary["streaming"]["reason"] == "requested"
    cli = cli_summary(STRESSED, PATHS, SEED, "--streaming")
    assert without(r.summary, "elapsed_s") == without(cli, "elapsed_s")


def test_auto_streams_over_the_limit_as_the_cli_does(cli_summary):
    r = ipabs.run(STRESSED, paths=PATHS, seed=SEED, streaming="auto", max_memory=TIGHT)
    assert r.paths is None
    assert r.summary["streaming"]["reason"] == "max_memory"
    cli = cli_summary(STRESSED, PATHS, SEED, "--max-memory", TIGHT)
    assert cli["streaming"]["reason"] == "max_memory"
    assert without(r.summary, "elapsed_s") == without(cli, "elapsed_s")


def test_auto_with_room_stores(cli_summary):
    r = ipabs.run(STRESSED, paths=PATHS, seed=SEED, streaming="auto", max_memory=ROOMY)
    assert "streaming" not in r.summary
    assert r.paths["pool_loss"].shape == (PATHS,)
    assert without(r.summary, "elapsed_s") == without(cli_summary(STRESSED), "elapsed_s")


def needed_mib(**kwargs):
    """The stored run's estimate, from the MemoryError a 1-byte limit raises."""
    with pytest.raises(MemoryError) as e:
        ipabs.run(STRESSED, paths=PATHS, seed=SEED, max_memory=1, **kwargs)
    return float(re.search(r"need about ([0-9.]+) MiB", str(e.value)).group(1))


def test_the_per_path_arrays_count_in_the_estimate():
    # The arrays add 8 bytes a path for each column: a limit halfway between the estimates with
    # and without them stores the run without arrays and streams the one with them.
    rows = needed_mib(per_path=False)
    with_arrays = needed_mib()
    columns = len(ipabs.run(STRESSED, paths=10, seed=SEED).paths)
    assert with_arrays - rows == pytest.approx(columns * 8 * PATHS / 2**20, abs=0.11)
    limit = int((rows + with_arrays) / 2 * 2**20)
    kept = ipabs.run(STRESSED, paths=PATHS, seed=SEED, per_path=False, streaming="auto", max_memory=limit)
    assert "streaming" not in kept.summary and kept.paths == {}
    streamed = ipabs.run(STRESSED, paths=PATHS, seed=SEED, streaming="auto", max_memory=limit)
    assert streamed.paths is None and streamed.summary["streaming"]["reason"] == "max_memory"


def test_the_scenario_key_and_the_argument_that_overrides_it():
    scenario = tomllib.loads(STRESSED.read_text())
    scenario["simulation"]["max_memory"] = TIGHT
    r = ipabs.run(scenario, paths=PATHS, seed=SEED, streaming="auto")
    assert r.summary["streaming"]["reason"] == "max_memory"
    r = ipabs.run(scenario, paths=PATHS, seed=SEED, streaming="auto", max_memory=ROOMY)
    assert "streaming" not in r.summary


def test_runs_over_the_limit_are_refused_when_not_streamed():
    # The default, streaming=False: stored or MemoryError, with the way out in the message.
    with pytest.raises(MemoryError, match=r"more than the memory limit max_memory = 16 MiB.*streaming=\"auto\""):
        ipabs.run(STRESSED, paths=PATHS, seed=SEED, max_memory=TIGHT)
    # Importance sampling keeps per-path weights: never streamed.
    scenario = tomllib.loads(STRESSED.read_text())
    scenario["simulation"]["importance"] = {"metric": "auto"}
    with pytest.raises(MemoryError, match="cannot be combined with importance sampling"):
        ipabs.run(scenario, paths=PATHS, seed=SEED, streaming="auto", max_memory=TIGHT)
    with pytest.raises(ValueError, match="streamed run .* cannot be combined with importance sampling"):
        ipabs.run(scenario, paths=PATHS, seed=SEED, streaming=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"streaming": "yes"}, "streaming: expected False, True or \"auto\", got 'yes'"),
        ({"streaming": 1}, "streaming: expected False, True or \"auto\", got 1"),
        ({"max_memory": "lots"}, "max_memory: expected a size such as 512MiB"),
        ({"max_memory": 0}, "max_memory: must be at least 1 byte, got 0"),
        ({"max_memory": -5}, "max_memory: must be at least 1 byte, got -5"),
        ({"max_memory": 1.5}, "max_memory: expected a size"),
        ({"max_memory": True}, "max_memory: expected a size"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ipabs.run(STRESSED, paths=10, seed=SEED, **kwargs)

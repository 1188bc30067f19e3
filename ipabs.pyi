"""Type hints of the ipabs Python module (built from src/python.rs; see README.md, "Python")."""

import os
from typing import Any, Dict, Iterable, Literal, Optional, Union

import numpy as np
import numpy.typing as npt

__version__: str

Scenario = Union[str, "os.PathLike[str]", Dict[str, Any]]
"""A scenario file's path, or a dict shaped like the file (as `tomllib.load` gives it)."""

Partial = Dict[str, bytes]
"""A shard's partial result: {"partial.json": ..., "partial.bin": ...}, the files of the folder
that `ipabs run --shard I/N` writes."""

class ScenarioError(ValueError):
    """A scenario that does not load (the command line's message), or a precision target that
    names no figure of the summary."""

class MergeError(ValueError):
    """Partial results that do not make one run (another run, a shard missing or repeated,
    damaged data)."""

class RunResult:
    """A run's summary and per-path outcomes.

    The keys of `paths`: `pool_loss`, `gross_default_loss`, `defaults`, `guarantor_shortfall`,
    `undertaker_draw`, `min_coverage`, `residual`, `missed`, `guarantor_paid`, `recovered`,
    `reimbursed`, `undertaker_cap_out_period` (the period its cap ran out, 0: never); for each
    guarantor k (in the order of summary["guarantors"]) `party{k}.payout`,
    `party{k}.net_payout`, `party{k}.shortfall`, `party{k}.obligation`, `party{k}.cap_exhausted`
    (0 or 1), `party{k}.cap_out_period` (the period its cap first bound, 0: never); for each
    tranche j (in the order of summary["tranches"])
    `tranche{j}.interest_shortfall` and `tranche{j}.principal_loss`.
    """

    summary: Dict[str, Any]
    """The dict summary.json holds for the same run."""
    paths: Optional[Dict[str, npt.NDArray[np.float64]]]
    """Each per-path outcome over all paths, in path order (empty with per_path=False; None
    for a streamed run, which keeps no per-path rows)."""

def run(
    scenario: Scenario,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: int = 0,
    per_path: bool = True,
    streaming: Union[bool, Literal["auto"]] = False,
    max_memory: Union[int, str, None] = None,
) -> RunResult:
    """Runs the scenario as `ipabs run` does.

    streaming: False (a stored run, or MemoryError when its estimate, the arrays included with
    per_path=True, is above min(max_memory, 80% of available memory)); True (streamed, as
    `ipabs run --streaming`: `.paths` is None); "auto" (streamed only when the stored run would
    not fit, as `ipabs run`; summary["streaming"]["reason"] says why).
    max_memory: a size such as "512MiB", "2GB" or a number of bytes; overrides the scenario's
    [simulation] max_memory.
    """
    ...
def validate(scenario: Scenario) -> Dict[str, Any]: ...
def run_shard(
    scenario: Scenario,
    index: int,
    count: int,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: int = 0,
) -> Partial: ...
def merge(
    parts: Iterable[Union[Partial, str, "os.PathLike[str]"]], per_path: bool = True
) -> RunResult: ...

"""The benchmark's regression check (benchmarks/bench.py --compare): a step is judged
against the naive loop run beside it, so a slower machine is not a slower release."""

from __future__ import annotations

import importlib.util
from typing import Any

from .conftest import REPO


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench", REPO / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(naive: float, generate: float, collect: float, merge: float) -> dict[str, Any]:
    return {
        "returns": 5,
        "naive_s": naive,
        "generate_s": generate,
        "collect_s": collect,
        "merge_s": merge,
        "spread": {"naive_s": 0.05, "generate_s": 0.05, "collect_s": 0.05, "merge_s": 0.05},
    }


def test_a_slower_machine_is_not_a_slower_release() -> None:
    bench = _bench()
    baseline = {"results": [_run(1.0, 0.5, 0.4, 0.5)]}
    # every step three times slower, and the naive loop too: the machine, not the code
    lines = bench.compare([_run(3.0, 1.5, 1.2, 1.5)], baseline)
    assert "x3.00" in lines[0] and "naive loop" in lines[0], lines
    assert len(lines) == 4 and all(line.endswith("same") for line in lines[1:]), lines
    assert all("x3.00, x1.00 for the machine" in line for line in lines[1:]), lines


def test_a_step_slower_than_the_machine_is_named() -> None:
    bench = _bench()
    baseline = {"results": [_run(1.0, 0.5, 0.4, 0.5)]}
    lines = bench.compare([_run(1.0, 0.5, 0.8, 0.3)], baseline)
    verdicts = {line.split()[3]: line.rsplit(maxsplit=1)[-1] for line in lines[1:]}
    assert verdicts == {"generate_s": "same", "collect_s": "SLOWER", "merge_s": "faster"}, lines
    # a size the baseline does not have is said, not guessed
    other = bench.compare([{**_run(1.0, 0.5, 0.4, 0.5), "returns": 300}], baseline)
    assert other == ["N = 300: the baseline has no figures for this size"]


def test_a_faster_machine_alone_does_not_make_a_step_slower() -> None:
    """A short naive run that came out fast is not a step that got slow."""
    bench = _bench()
    baseline = {"results": [_run(1.0, 0.5, 0.4, 0.5)]}
    lines = bench.compare([_run(0.6, 0.55, 0.4, 0.5)], baseline)
    assert all(line.endswith("same") for line in lines[1:]), lines

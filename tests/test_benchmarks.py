"""Every benchmark runs once in a tiny size and produces a well-formed result; nothing
here asserts a time (the numbers come from `make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_helpers import need_binary

from benchmarks import BENCHMARKS

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {"value", "unit", "baseline", "ratio", "target", "met", "details"}


def _well_formed(result: dict[str, object]) -> None:
    assert set(result) >= FIELDS, result
    assert isinstance(result["value"], int | float), result
    assert isinstance(result["unit"], str) and result["unit"]
    assert isinstance(result["target"], str) and result["target"]
    assert isinstance(result["met"], bool)
    if result["ratio"] is not None:
        assert isinstance(result["baseline"], int | float)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_measures_in_a_tiny_size(name: str) -> None:
    need_binary("kubectl")
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    _well_formed(result)
    if name == "startup":  # the floor: the bare app once settings and runbooks are validated
        floor, bare = result["details"]["floor_ms"], result["baseline"]
        assert floor > 0 and result["details"]["floor_ratio"] == pytest.approx(floor / bare, 0.01)


def test_the_runner_writes_results_json_and_a_table(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    earlier = {"value": 1.0, "unit": "%", "baseline": None, "ratio": None}
    earlier |= {"target": "< 3%", "met": True, "details": {}}
    out.write_text(json.dumps({"idle": earlier, "export": {}, "retired": earlier}))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "export", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    # this run's export replaces the earlier one; idle, not run, is kept
    assert list(results) == ["export", "idle"]
    assert results["idle"] == earlier
    _well_formed(results["export"])
    assert "export" in done.stdout and "target" in done.stdout


def test_a_quick_run_leaves_the_real_results_alone() -> None:
    results = ROOT / "benchmarks" / "results.json"
    before = results.read_bytes() if results.exists() else None
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "export", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "export" in done.stdout
    assert (results.read_bytes() if results.exists() else None) == before


def test_the_runner_names_an_unknown_benchmark() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "warp-speed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no benchmark warp-speed" in done.stderr

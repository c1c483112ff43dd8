"""`python -m benchmarks` (`make bench`): run every benchmark, each in its own process,
print a table and write ``benchmarks/results.json``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"


def run_one(name: str, quick: bool, timeout: float) -> dict[str, Any]:
    """One benchmark in a fresh process (clean memory, no shared imports or GIL)."""
    command = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if quick else [])]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return _failed(f"did not finish within {timeout:g} s")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return result
    lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
    return _failed(lines[-1])


def _failed(reason: str) -> dict[str, Any]:
    return {
        "value": None,
        "unit": "",
        "baseline": None,
        "ratio": None,
        "target": "",
        "met": False,
        "details": {"error": reason},
    }


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median value, with every run's value (and ratio) kept in
    ``details``."""
    measured = [r for r in runs if r["value"] is not None]
    if not measured:
        return runs[-1]
    measured.sort(key=lambda r: float(r["value"]))
    chosen = dict(measured[len(measured) // 2])
    if len(runs) > 1:
        chosen["details"] = {**chosen["details"], "runs": [r["value"] for r in runs]}
        if chosen["ratio"] is not None:
            chosen["details"]["run_ratios"] = [r["ratio"] for r in runs]
    return chosen


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def table(results: dict[str, dict[str, Any]]) -> str:
    header = ("benchmark", "value", "unit", "baseline", "ratio", "target", "met")
    rows = [header]
    for name, r in results.items():
        met = "yes" if r["met"] else "NO"
        if r["value"] is None:
            met = f"error: {r['details'].get('error', '')}"[:60]
        rows.append(
            (
                name,
                _cell(r["value"]),
                r["unit"],
                _cell(r["baseline"]),
                _cell(r["ratio"]),
                r["target"],
                met,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _merged(out: Path, results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The file's earlier results of the benchmarks not run this time, then this run's: a
    run of some of them does not wipe out the others."""
    try:
        earlier = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = {}
    if not isinstance(earlier, dict):
        earlier = {}
    kept = {name: earlier[name] for name in BENCHMARKS if name in earlier and name not in results}
    ordered = {**kept, **results}
    return {name: ordered[name] for name in BENCHMARKS if name in ordered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)} (default: all)"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs of each; the median is kept")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks, not numbers")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write the JSON (default: {RESULTS.relative_to(ROOT)}; with --quick, "
        "nowhere, so tiny-size numbers never mix with real ones)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument(
        "--pause",
        type=float,
        default=10.0,
        help="seconds to wait before each run, so the previous run's processes are gone and "
        "the memory it freed is back with the system (default: 10)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    results: dict[str, dict[str, Any]] = {}
    for name in args.names or BENCHMARKS:
        runs = []
        for number in range(max(1, args.runs)):
            print(f"… {name} (run {number + 1}/{max(1, args.runs)})", file=sys.stderr, flush=True)
            if results or runs:
                time.sleep(0 if args.quick else args.pause)
            runs.append(run_one(name, args.quick, args.timeout))
        results[name] = combine(runs)
    out = args.out if args.out is not None or args.quick else RESULTS
    if out is not None:
        out.write_text(json.dumps(_merged(out, results), indent=2) + "\n", encoding="utf-8")
    print(table(results))
    # a target not met is a finding, not a failure of the run; a benchmark that could not
    # measure is
    return 0 if all(r["value"] is not None for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

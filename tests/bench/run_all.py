"""`make bench`: runs every `tests/bench/bench_*.py` module's `main()` and prints its figures.

Each module runs its own scenario against the real broker and the simulators and returns named
figures (latencies in ms, ratios, durations in s). Figures are printed, and written to
`bench-results/latest.json` so docs/benchmarks.md can be updated from a real run. Nothing here
asserts a speed: benchmarks measure, tests check behaviour.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

import tests.bench as bench_package

RESULTS = Path("bench-results/latest.json")


def discover(selected: list[str]) -> list[str]:
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench_package.__path__) if m.name.startswith("bench_")
    )
    return [n for n in names if not selected or any(s in n for s in selected)]


async def run(names: list[str]) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name in names:
        module = importlib.import_module(f"tests.bench.{name}")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        figures: dict[str, float] = await module.main()
        figures["bench_wall_s"] = round(time.perf_counter() - started, 1)
        for key, value in figures.items():
            print(f"   {key:<40} {value}", flush=True)
        results[name] = figures
    return results


def main() -> None:
    names = discover(sys.argv[1:])
    if not names:
        print("no benchmarks found")
        return
    results = asyncio.run(run(names))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

"""Head-of-line benchmark: does a sale that must wait delay the others? The sales benchmark
(500 sales at 10/s, webhook on) runs twice, on fresh topics: clean, then with 10 % of the sales
selling a product that has no binding (each waits for its retries, then goes to the dead
letters). The other sales' p99 must stay within 2x of the clean run's (issue: reliability)."""

from __future__ import annotations

import asyncio

from tests.bench.bench_sales import main as sales

UNBINDABLE = 0.10


async def main() -> dict[str, float]:
    clean = await sales()
    stuck = await sales(unbindable=UNBINDABLE)
    return {
        "clean_p50_ms": clean["latency_median_ms"],
        "clean_p99_ms": clean["latency_p99_ms"],
        "unbindable_sales": stuck["sales_unbindable"],
        "others_p50_ms": stuck["latency_median_ms"],
        "others_p99_ms": stuck["latency_p99_ms"],
        "others_max_ms": stuck["latency_max_ms"],
        "p99_ratio": round(stuck["latency_p99_ms"] / clean["latency_p99_ms"], 2),
    }


if __name__ == "__main__":
    print(asyncio.run(main()))

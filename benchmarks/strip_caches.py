"""Tab switches with Textual's own drawn lines against lines that make their caches when first
asked for one (chartui/ui/cycles.py): UI-thread CPU per switch and the garbage collector's work.

In-process, an idle app on a saved run, 120x40 (Textual's ``run_test``; its pilot adds work of
its own to each switch, the same both ways). The heap is frozen after a warm-up, as ``chartui
ui`` freezes it. The two ways alternate, each in a fresh process, ``--rounds`` times each.

    python benchmarks/strip_caches.py RUN --switches 50 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time

from common import emit, log, machine, median


async def one_way(run: str, switches: int, lazy: bool) -> dict:
    from chartui.ui import cycles
    from chartui.ui.app import ChartuiApp

    app = ChartuiApp(run=run)  # makes Strip's caches lazy
    if not lazy:
        cycles.textual_strip_caches()
    collector = {"ms": 0.0, "runs": [0, 0, 0], "start": 0.0}

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            collector["start"] = time.perf_counter()
        else:
            collector["ms"] += (time.perf_counter() - collector["start"]) * 1000
            collector["runs"][info["generation"]] += 1

    cpu = []
    async with app.run_test(size=(120, 40)) as pilot:
        for key in "23451" * 2:  # every tab drawn once before timing
            await pilot.press(key)
            await pilot.pause()
        gc.collect()
        gc.freeze()
        gc.callbacks.append(timed)
        for i in range(switches):
            start = time.thread_time()
            await pilot.press("23451"[i % 5])
            await pilot.pause()
            cpu.append((time.thread_time() - start) * 1000)
        gc.callbacks.remove(timed)
    return {
        "cpu_ms_per_switch": median(cpu),
        "gc_ms_per_switch": collector["ms"] / switches,
        "collections_per_switch": sum(collector["runs"]) / switches,
        "full_collections": collector["runs"][2],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a saved run (a folder with run.json)")
    ap.add_argument("--switches", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", choices=["textual", "lazy"], help=argparse.SUPPRESS)  # a child process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(one_way(args.run, args.switches, args.one == "lazy"))))
        return
    results: dict[str, list[dict]] = {"textual": [], "lazy": []}
    for r in range(args.rounds):
        for way in results:
            out = subprocess.run(
                [sys.executable, __file__, args.run, "--switches", str(args.switches), "--one", way],
                capture_output=True,
                text=True,
                check=True,
            )
            results[way].append(json.loads(out.stdout.strip().splitlines()[-1]))
            log(f"round {r + 1} {way}: {results[way][-1]}")
    emit(
        {
            "benchmark": "strip_caches",
            "machine": machine(),
            "switches": args.switches,
            "rounds": args.rounds,
            **{way: {k: median([x[k] for x in rs]) for k in rs[0]} for way, rs in results.items()},
        }
    )


if __name__ == "__main__":
    main()

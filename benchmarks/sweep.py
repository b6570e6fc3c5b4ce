"""Sweep training settings at a fixed time budget: each trial is a real `chartui train` run on
tiny-shakespeare in its own process, one after another (never two at once: they would share
the cores). Prints one JSON line per trial as it ends, then a JSON summary sorted by the best
validation loss (nats/char over the whole validation split, scored in fp32).

    python benchmarks/sweep.py --trials benchmarks/sweeps/cpu-bf16.json --seconds 300 --out sweep.jsonl
    python benchmarks/sweep.py --trials ... --seeds 1337,1,2 --only a,c   # finalists on more seeds

A trials file is a JSON object: {"base": ["--preset", "cpu", ...], "trials": {"name": ["--hidden", "640", ...]}}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import corpus_path, emit, log, machine


def run_trial(flags: list[str], seconds: float, seed: int, home: Path, corpus: str) -> dict:
    run = home / "checkpoints" / f"trial-{time.time_ns()}"
    cmd = [
        sys.executable,
        "-m",
        "chartui",
        "train",
        "--corpus",
        corpus,
        *flags,
        "--max-seconds",
        str(seconds),
        "--seed",
        str(seed),
        "--run",
        str(run),
        "--json",
    ]
    started = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CHARTUI_HOME": str(home)})
    wall = time.monotonic() - started
    events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    finished = next((e for e in reversed(events) if e.get("event") == "finished"), None)
    first = next((e for e in events if e.get("event") == "started"), {})
    if finished is None:
        return {"error": (res.stderr.strip().splitlines() or ["no output"])[-1], "wall": round(wall, 1)}
    evals = [[round(e["elapsed"], 1), round(e["val_loss"], 4)] for e in events if e.get("event") == "eval"]
    shutil.rmtree(run, ignore_errors=True)
    return {
        "best_val": finished["best_val_loss"],
        "final_val": finished["val_loss"],
        "train_loss": finished["train_loss"],
        "chars_per_s": round(finished["chars_per_s"]),
        "steps": finished["steps"],
        "precision": first.get("precision"),
        "params": first.get("info", {}).get("params", {}).get("total"),
        "evals": evals,
        "wall": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", required=True, help="a JSON trials file")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--seeds", default="1337", help="comma-separated seeds; each trial runs once per seed")
    ap.add_argument("--only", help="comma-separated trial names to run (default: all)")
    ap.add_argument("--corpus", help="tiny-shakespeare (default: ../shared/data/tinyshakespeare.txt)")
    ap.add_argument("--out", help="append each result as a JSON line to this file too")
    args = ap.parse_args()
    spec = json.loads(Path(args.trials).read_text())
    only = set(args.only.split(",")) if args.only else None
    corpus = corpus_path(args.corpus)
    home = Path(tempfile.mkdtemp(prefix="chartui-sweep-"))
    results = []
    for name, flags in spec["trials"].items():
        if only and name not in only:
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            log(f"{name} seed {seed}: {' '.join(spec.get('base', []) + flags)}")
            result = {
                "trial": name,
                "seed": seed,
                "flags": spec.get("base", []) + flags,
                "seconds": args.seconds,
                **run_trial(spec.get("base", []) + flags, args.seconds, seed, home, corpus),
            }
            log(f"  -> best val {result.get('best_val')}, {result.get('chars_per_s')} chars/s, {result.get('error', '')}")
            results.append(result)
            print(json.dumps(result), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(result) + "\n")
    ranked = sorted((r for r in results if "best_val" in r), key=lambda r: r["best_val"])
    emit(
        {
            "benchmark": "sweep",
            "machine": machine(),
            "seconds": args.seconds,
            "ranking": [
                {k: r[k] for k in ("trial", "seed", "best_val", "final_val", "chars_per_s", "precision")} for r in ranked
            ],
        }
    )
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

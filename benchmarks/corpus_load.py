"""Corpora larger than memory: the first load (a streaming encode into the cache) and a cached
load (hash the file, check the cache, memory-map it) of generated 100 MB and 1 GB corpora
(tiny-shakespeare repeated; written to a temporary folder, never committed). Each load runs in a
fresh process; its peak resident memory (VmHWM) is read at the end, and the process's baseline
(Python + numpy + chartui imported) is reported beside it.

    python benchmarks/corpus_load.py --sizes 100,1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import corpus_path, emit, log, machine

PROBE = """
import json, sys, time
def hwm():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
from chartui.engine.corpus import load_corpus
base = hwm()
t = time.perf_counter()
corpus = load_corpus(sys.argv[1])
seconds = time.perf_counter() - t
first, last = int(corpus.ids[0]), int(corpus.ids[-1])  # touch the map at both ends
print(json.dumps({"seconds": seconds, "peak_mb": hwm(), "baseline_mb": base, "chars": len(corpus), "vocab": corpus.vocab.size}))
"""


def load(path: Path, env: dict) -> dict:
    res = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(res.stderr.strip().splitlines()[-1])
    out = json.loads(res.stdout)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="the text to repeat (default: tiny-shakespeare)")
    ap.add_argument("--sizes", default="100,1000", help="sizes in MB")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="chartui-big-"))
    env = {**os.environ, "CHARTUI_HOME": str(folder / "home")}
    chunk = Path(corpus_path(args.corpus)).read_bytes()
    results = []
    try:
        for mb in (int(s) for s in args.sizes.split(",")):
            path = folder / f"corpus-{mb}mb.txt"
            with open(path, "wb") as fh:
                written = 0
                while written < mb * 1_000_000:
                    fh.write(chunk)
                    written += len(chunk)
            log(f"{mb} MB: first load")
            first = load(path, env)
            log(f"{mb} MB: cached load")
            cached = load(path, env)
            results.append({"mb": round(path.stat().st_size / 1e6), "first": first, "cached": cached})
            path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    emit(
        {
            "benchmark": "corpus_load",
            "machine": machine(),
            "targets": {"first_s": 60, "cached_s": 2, "peak_mb": 1536},
            "results": results,
        }
    )


if __name__ == "__main__":
    main()

"""Shared set-up for the benchmark scripts: the corpus, the machine description, JSON out."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def corpus_path(arg: str | None) -> str:
    """--corpus, else $CHARTUI_BENCH_CORPUS, else ../shared/data/tinyshakespeare.txt, else the download."""
    if arg:
        return arg
    if os.environ.get("CHARTUI_BENCH_CORPUS"):
        return os.environ["CHARTUI_BENCH_CORPUS"]
    return str(DEFAULT_CORPUS) if DEFAULT_CORPUS.is_file() else "tinyshakespeare"


def machine() -> dict:
    """What a figure was measured on: processor and its SIMD/bf16 flags, cores, torch."""
    import torch

    from chartui.engine.precision import cpu_flags, cpu_model

    cpu = cpu_model()
    flags = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "amx_int8", "fma"})
    info = {
        "cpu_flags": flags,
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def median(values: list[float]) -> float:
    return statistics.median(values)


def emit(obj: dict) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)

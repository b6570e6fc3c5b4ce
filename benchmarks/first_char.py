"""Time to the first character: `chartui sample RUN` (and `chartui gates RUN`) from the shell
prompt to the first generated character on stdout, for a model of the `cpu` preset's shape.
Neither command imports torch: the weights are read with safetensors' numpy loader and
replayed in numpy. Medians of several runs, each a fresh process.

    python benchmarks/first_char.py --runs 9
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from common import corpus_path, emit, log, machine, median


def first_byte_seconds(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    first = proc.stdout.read(1)
    took = time.perf_counter() - start
    proc.communicate()
    if not first or proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr!r}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--corpus", help="text to build the model's vocabulary from (default: tiny-shakespeare)")
    ap.add_argument("--preset", default="cpu")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="chartui-first-char-")
    env = {**os.environ, "CHARTUI_HOME": home}
    run = os.path.join(home, "run")
    log("making a model of the preset's shape (one step)...")
    subprocess.run(
        [sys.executable, "-m", "chartui", "train", "--corpus", corpus_path(args.corpus), "--preset", args.preset,
         "--max-steps", "1", "--precision", "fp32", "--sample-seconds", "0", "--run", run],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    exe = [sys.executable, "-m", "chartui"]
    sample = [first_byte_seconds([*exe, "sample", run, "--length", "1"], env) for _ in range(args.runs)]
    gates = [first_byte_seconds([*exe, "gates", run, "--text", "ROMEO:\\nIs the day so young?"], env) for _ in range(args.runs)]
    imports = subprocess.run(
        [*exe[:1], "-c", f"import sys; from chartui.cli import main; main(['sample', {run!r}, '--length', '1']); "
         "print('torch' in sys.modules, file=sys.stderr)"],
        capture_output=True, text=True, env=env,
    ).stderr.strip().splitlines()[-1]  # fmt: skip
    emit(
        {
            "benchmark": "first_char",
            "machine": machine(),
            "preset": args.preset,
            "sample_first_char_seconds": [round(t, 3) for t in sample],
            "sample_first_char_median": round(median(sample), 3),
            "gates_first_output_seconds": [round(t, 3) for t in gates],
            "gates_first_output_median": round(median(gates), 3),
            "torch_imported": imports == "True",
            "target_seconds": 0.5,
        }
    )


if __name__ == "__main__":
    main()

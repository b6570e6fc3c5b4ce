"""Load: one trainer, and readers of the same run at once: two apps following it, `chartui
sample --forever`, and `chartui eval` / `chartui sample --json` over and over.

The trainer (`chartui train --preset cpu`, headless) runs alone for `--alone` seconds, then with
every reader for `--minutes`. Figures: failures among the readers (any non-zero exit, or a
checkpoint that goes back in steps), the trainer's throughput with readers over its throughput
alone, and the readers' share of the machine's CPU over the same time. The trainer should lose
less than the readers' share (the readers take CPU; they must not add waiting on top).

    python benchmarks/load.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import corpus_path, emit, log, machine
from tmux_driver import Session, chartui_exe

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


class Repeater(threading.Thread):
    """Runs a command again and again until stopped; counts failures; sums children's CPU."""

    def __init__(self, cmd: list[str], env: dict, check) -> None:
        super().__init__(daemon=True)
        self.cmd, self.env, self.check = cmd, env, check
        self.runs = self.failures = 0
        self.cpu = 0.0
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
            out, err = proc.communicate()
            self.runs += 1
            problem = err.strip().splitlines()[-1] if proc.returncode else self.check(out)
            if problem:
                self.failures += 1
                self.errors.append(problem)
            self.cpu += _child_cpu()


_last_children = [0.0]


def _child_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    now = usage.ru_utime + usage.ru_stime
    delta, _last_children[0] = now - _last_children[0], now
    return delta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--alone", type=float, default=120.0, help="seconds the trainer runs alone first")
    args = ap.parse_args()
    exe = chartui_exe()
    home = Path(tempfile.mkdtemp(prefix="chartui-load-"))
    env = {**os.environ, "CHARTUI_HOME": str(home), "CHARTUI_CONFIG": str(home / "config.toml")}
    run = home / "run"
    budget = args.alone + args.minutes * 60 + 120
    trainer = subprocess.Popen(
        [exe, "train", "--corpus", corpus_path(args.corpus), "--preset", args.preset, "--max-seconds", str(budget),
         "--sample-seconds", "0", "--run", str(run), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    steps: list[dict] = []
    threads: list[dict] = []  # the trainer's thread changes (--threads 0 follows the free cores)

    def read_trainer() -> None:
        assert trainer.stdout is not None
        for line in trainer.stdout:
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "step":
                    steps.append({"t": time.monotonic(), "chars": event["chars_seen"], "elapsed": event["elapsed"]})
                elif event.get("event") == "threads":
                    threads.append({"t": time.monotonic(), "threads": event["threads"], "others": event["others"]})

    threading.Thread(target=read_trainer, daemon=True).start()
    while not (run / "last.safetensors").is_file():
        time.sleep(0.2)
    log(f"trainer alone for {args.alone:.0f} s")
    time.sleep(args.alone)
    alone_end = time.monotonic()
    trainer_cpu_0 = cpu_seconds(trainer.pid)

    seen_steps: list[int] = []

    def check_eval(out: str) -> str:
        result = json.loads(out)
        return "" if result["loss"] > 0 else f"bad loss {result['loss']}"

    def check_sample(out: str) -> str:
        step = json.loads(out)["step"]
        if seen_steps and step < seen_steps[-1]:
            return f"checkpoint went back from step {seen_steps[-1]} to {step}"
        seen_steps.append(step)
        return ""

    followers = [Session(f"{exe} ui {run}", env={k: env[k] for k in ("CHARTUI_HOME", "CHARTUI_CONFIG")}) for _ in range(2)]
    forever = subprocess.Popen([exe, "sample", str(run), "--forever"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    evals = Repeater([exe, "eval", str(run), "--checkpoint", "last", "--json"], env, check_eval)
    samples = Repeater([exe, "sample", str(run), "--checkpoint", "last", "--length", "200", "--json"], env, check_sample)
    evals.start()
    samples.start()
    for f in followers:
        f.wait_for(r"following", timeout=120)
    app_cpu_0 = [cpu_seconds(f.pid()) for f in followers]
    forever_cpu_0 = cpu_seconds(forever.pid)
    start = time.monotonic()
    log(f"with readers for {args.minutes:.0f} min")
    while time.monotonic() - start < args.minutes * 60:
        time.sleep(5)
        if forever.poll() is not None or trainer.poll() is not None:
            break
    wall = time.monotonic() - start
    readers_cpu = sum(cpu_seconds(f.pid()) - c for f, c in zip(followers, app_cpu_0)) + (
        cpu_seconds(forever.pid) - forever_cpu_0 if forever.poll() is None else 0.0
    )
    trainer_cpu = cpu_seconds(trainer.pid) - trainer_cpu_0
    forever_failed = forever.poll() is not None
    forever.terminate()
    evals.stop.set()
    samples.stop.set()
    evals.join()
    samples.join()
    readers_cpu += evals.cpu + samples.cpu
    for f in followers:
        f.close()
    trainer.terminate()
    trainer.wait(timeout=120)

    def rate(t0: float, t1: float) -> float:
        window = [s for s in steps if t0 <= s["t"] <= t1]
        return (window[-1]["chars"] - window[0]["chars"]) / (window[-1]["elapsed"] - window[0]["elapsed"])

    alone = rate(alone_end - args.alone + 20, alone_end)  # after its first 20 s of warming up
    loaded = rate(start, start + wall)
    cores = len(os.sched_getaffinity(0))
    emit(
        {
            "benchmark": "load",
            "machine": machine(),
            "preset": args.preset,
            "minutes": round(wall / 60, 2),
            "trainer_chars_per_s_alone": round(alone),
            "trainer_chars_per_s_with_readers": round(loaded),
            "trainer_throughput_ratio": round(loaded / alone, 3),
            "trainer_loss": round(1 - loaded / alone, 3),
            "readers_cpu_share": round(readers_cpu / (wall * cores), 3),
            "trainer_cpu_share_with_readers": round(trainer_cpu / (wall * cores), 3),
            "trainer_thread_changes": [
                {"s": round(c["t"] - start, 1), "threads": c["threads"], "others": c["others"]} for c in threads
            ],
            "readers": {
                "followers": 2,
                "sample_forever_failed": forever_failed,
                "eval_runs": evals.runs,
                "eval_failures": evals.failures,
                "sample_runs": samples.runs,
                "sample_failures": samples.failures,
                "errors": (evals.errors + samples.errors)[:10],
                "checkpoint_steps_seen": [seen_steps[0], seen_steps[-1]] if seen_steps else None,
            },
        }
    )


if __name__ == "__main__":
    sys.exit(main())

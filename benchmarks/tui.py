"""The app while it trains at full speed: key press to updated screen, and training
throughput inside the app against headless `chartui train` on the same config, in one run.

Both are measured end to end on the real executable in tmux. Latency: `+`/`-` on the Generate
tab (the model training now), from `tmux send-keys` to the new temperature being on screen,
polled with `capture-pane` (tmux adds a few milliseconds of its own, and the polling takes CPU
from the run it measures). Throughput: the chars/s each run reports at its end (training steps
only, both sides), headless and in-app runs alternating, medians compared.

    python benchmarks/tui.py --seconds 60 --preset seed --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import corpus_path, emit, log, machine, median
from tmux_driver import Session, chartui_exe, preset_file


def finished_record(run: Path) -> dict:
    for line in reversed((run / "metrics.jsonl").read_text().splitlines()):
        record = json.loads(line)
        if record.get("event") == "finished":
            return record
    raise RuntimeError(f"{run} has not finished")


def headless_round(exe: str, corpus: str, preset: Path, home: Path, i: int) -> float:
    run = home / f"headless-{i}"
    subprocess.run(
        [exe, "train", "--corpus", corpus, "--preset", str(preset), "--run", str(run), "--json"],
        env={**os.environ, "CHARTUI_HOME": str(home)},
        capture_output=True,
        check=True,
    )
    return finished_record(run)["chars_per_s"]


def app_round(exe: str, corpus: str, preset: Path, home: Path, interval: float, latencies: list[float]) -> float:
    """Train in the app on the Generate tab, pressing + and - every ``interval`` seconds."""
    session = Session(f"{exe} ui --corpus {corpus} --preset {preset}", env={"CHARTUI_HOME": str(home)})
    runs = home / "checkpoints"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    try:
        session.wait_for(r"Press s to train")
        session.keys("s")
        session.wait_for(r"step\s[\d,]+\s+loss", timeout=120)
        session.keys("2")
        session.wait_for(r"T 0\.80")
        temperature = 0.8
        while True:
            key, temperature = ("+", 0.9) if temperature == 0.8 else ("-", 0.8)
            latencies.append(session.key_latency(key, rf"T {temperature:.2f}"))
            time.sleep(interval)
            done = [
                r
                for r in set(runs.iterdir()) - before
                if (r / "metrics.jsonl").is_file() and '"finished"' in (r / "metrics.jsonl").read_text()[-2000:]
            ]
            if done:
                rate = finished_record(done[0])["chars_per_s"]
                break
        session.keys("C-q")
    finally:
        time.sleep(0.5)
        session.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--preset", default="seed")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=3, help="headless and in-app runs, alternating")
    ap.add_argument("--interval", type=float, default=0.4, help="seconds between key presses")
    args = ap.parse_args()
    exe = chartui_exe()
    corpus = corpus_path(args.corpus)
    home = Path(tempfile.mkdtemp(prefix="chartui-bench-"))
    preset = preset_file(args.preset, home, max_seconds=args.seconds, sample_epochs=[], sample_seconds=0.0)
    headless, in_app, latencies = [], [], []
    for i in range(args.rounds):
        headless.append(headless_round(exe, corpus, preset, home, i))
        in_app.append(app_round(exe, corpus, preset, home, args.interval, latencies))
        log(
            f"round {i}: headless {headless[-1]:,.0f} chars/s, in the app {in_app[-1]:,.0f} chars/s, "
            f"latency median {median(latencies) * 1000:.0f} ms"
        )
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    emit(
        {
            "benchmark": "tui",
            "machine": machine(),
            "preset": args.preset,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "key_latency_ms": {
                "n": len(latencies),
                "median": round(median(latencies) * 1000, 1),
                "p95": round(p95 * 1000, 1),
                "max": round(latencies[-1] * 1000, 1),
            },
            "headless_chars_per_s": [round(x) for x in headless],
            "in_app_chars_per_s": [round(x) for x in in_app],
            "ratio": round(median(in_app) / median(headless), 3),
        }
    )


if __name__ == "__main__":
    main()

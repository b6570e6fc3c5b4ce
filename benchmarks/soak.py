"""Soak: train inside the app for 30 minutes (the `cpu` preset) and watch the process's resident
memory and the key latency. Histories are bounded, so memory should stay flat.

    python benchmarks/soak.py --minutes 30
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import corpus_path, emit, log, machine, median
from tmux_driver import Session, chartui_exe, preset_file, rss_mb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--every", type=float, default=30.0, help="seconds between memory samples")
    args = ap.parse_args()
    exe = chartui_exe()
    home = Path(tempfile.mkdtemp(prefix="chartui-soak-"))
    seconds = args.minutes * 60
    preset = preset_file(args.preset, home, max_seconds=seconds + 600)  # the clock below ends the soak, not the budget
    session = Session(f"{exe} ui --corpus {corpus_path(args.corpus)} --preset {preset}", env={"CHARTUI_HOME": str(home)})
    samples, latencies = [], []
    try:
        session.wait_for(r"Press s to train")
        pid = session.pid()
        session.keys("s")
        session.wait_for(r"step\s[\d,]+\s+loss", timeout=120)
        start = time.monotonic()
        temperature = 0.8
        while time.monotonic() - start < seconds:
            samples.append({"minute": round((time.monotonic() - start) / 60, 2), "rss_mb": round(rss_mb(pid), 1)})
            session.keys("2")  # probe responsiveness on the Generate tab, then go back to the chart
            session.wait_for(r"T \d\.\d\d ", timeout=10)
            for _ in range(5):
                key, temperature = ("+", 0.9) if temperature == 0.8 else ("-", 0.8)
                latencies.append(session.key_latency(key, rf"T {temperature:.2f}"))
                time.sleep(0.2)
            session.keys("1")
            log(samples[-1], f"latency median {median(latencies[-5:]) * 1000:.0f} ms")
            time.sleep(args.every)
        session.keys("C-q")
        session.wait_for("A run is training", timeout=10)
        session.keys("y")
        end = time.monotonic()
        while session.alive() and time.monotonic() - end < 15:
            time.sleep(0.1)
        exit_seconds = time.monotonic() - end
    finally:
        session.close()
    rss = [s["rss_mb"] for s in samples]
    latencies.sort()
    emit(
        {
            "benchmark": "soak",
            "machine": machine(),
            "preset": args.preset,
            "minutes": args.minutes,
            "rss_mb": {
                "first": rss[0],
                "after_5_min": next((s["rss_mb"] for s in samples if s["minute"] >= 5), rss[-1]),
                "last": rss[-1],
                "max": max(rss),
            },
            "key_latency_ms": {
                "n": len(latencies),
                "median": round(median(latencies) * 1000, 1),
                "p95": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
            },
            "quit_seconds": round(exit_seconds, 2),
            "samples": samples,
        }
    )


if __name__ == "__main__":
    main()

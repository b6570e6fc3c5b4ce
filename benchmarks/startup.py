"""Start-up: `chartui --help` (no torch on that path) and the app's first painted frame.

The first frame is timed end to end in tmux: from starting the session to the Train tab's
first line being on screen. Medians of several runs.

    python benchmarks/startup.py --runs 7
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

from common import emit, machine, median
from tmux_driver import Session, chartui_exe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    exe = chartui_exe()
    help_times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        help_times.append(time.perf_counter() - start)
    frame_times = []
    home = tempfile.mkdtemp(prefix="chartui-bench-")
    for _ in range(args.runs):
        session = Session(exe, env={"CHARTUI_HOME": home})
        try:
            session.wait_for(r"Press s to train", timeout=30)
            frame_times.append(time.perf_counter() - session.started)
        finally:
            session.close()
        time.sleep(0.3)
    emit(
        {
            "benchmark": "startup",
            "machine": machine(),
            "help_seconds": [round(t, 3) for t in help_times],
            "help_median": round(median(help_times), 3),
            "first_frame_seconds": [round(t, 3) for t in frame_times],
            "first_frame_median": round(median(frame_times), 3),
            "runs": args.runs,
            "home": os.path.basename(home),
        }
    )


if __name__ == "__main__":
    main()

"""Drive the real chartui app in tmux for the benchmarks: keys in, screen out, latencies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

POLL = 0.005
"""Seconds between two reads of the screen while waiting for a change: polling without a
pause would spawn tmux clients back to back and take from the measured app the very CPU
whose lack it measures (on two cores the figures were about twice as slow that way)."""


def chartui_exe() -> str:
    exe = shutil.which("chartui", path=str(Path(sys.executable).parent)) or shutil.which("chartui")
    if not exe:
        raise SystemExit("chartui is not installed in this environment (pip install -e .)")
    return exe


class Session:
    def __init__(self, command: str, *, env: dict[str, str], width: int = 120, height: int = 40) -> None:
        if shutil.which("tmux") is None:
            raise SystemExit("these benchmarks drive the app in tmux; install tmux")
        self.name = f"chartui-bench-{os.getpid()}-{time.time_ns()}"
        extra = [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]
        self.started = time.perf_counter()
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), *extra, command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, "--", *keys)  # "--": a "-" key is not an option

    def pid(self) -> int:
        return int(self._tmux("display", "-p", "-t", self.name, "#{pane_pid}").strip())

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0

    def wait_for(self, pattern: str, timeout: float = 60.0) -> float:
        """Seconds until ``pattern`` is on screen."""
        return self.until(lambda s: re.search(pattern, s) is not None, time.perf_counter(), timeout, f"{pattern!r}")

    def until(self, test, start: float, timeout: float = 10.0, what: str = "the change") -> float:
        """Seconds from ``start`` (a perf_counter time) until ``test(screen)`` holds."""
        while time.perf_counter() - start < timeout:
            if test(self.screen()):
                return time.perf_counter() - start
            time.sleep(POLL)
        raise TimeoutError(f"{what} did not appear within {timeout:g} s; the screen shows:\n{self.screen()}")

    def key_latency(self, key: str, pattern: str) -> float:
        """Seconds from sending ``key`` to ``pattern`` appearing on screen."""
        start = time.perf_counter()
        self.keys(key)
        return self.until(lambda s: re.search(pattern, s) is not None, start, what=f"{pattern!r} after {key!r}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def preset_file(base: str, folder: Path, **train) -> Path:
    """A copy of a bundled preset with some [train] values replaced (budgets, cadences).

    JSON's scalars, strings and lists are valid TOML, so json.dumps writes each value."""
    import json
    import tomllib

    from chartui.config import load_preset

    p = load_preset(base)
    lines = [f"description = {json.dumps(base + ', for a benchmark')}", "[model]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in p.model.items()]
    lines += ["[train]"] + [f"{k} = {json.dumps(v)}" for k, v in {**p.train, **train}.items()]
    path = folder / f"{base}-bench.toml"
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())  # fail here, not inside the app, if the file were malformed
    return path

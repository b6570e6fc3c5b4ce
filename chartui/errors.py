"""The errors chartui reports to users as one line, with exit status 2.

Every message says what went wrong and what to do about it. The CLI prints
``chartui: error: <message>`` and the TUI shows the message in a notification; neither
prints a traceback for these.
"""


class ChartuiError(Exception):
    """A problem with what the user asked for or handed us; the message is for the user."""

    exit_code = 2


class ConfigError(ChartuiError):
    """A setting is out of range, unknown, or contradicts another."""


class CorpusError(ChartuiError):
    """A corpus is missing, empty, binary, not UTF-8, too short, or cannot be fetched."""


class CheckpointError(ChartuiError):
    """A file is not a chartui checkpoint, is damaged, or does not match its metadata."""


class RunError(ChartuiError):
    """A run folder is missing, not a chartui run, or locked by another trainer."""


class SaveError(ChartuiError):
    """Writing a checkpoint or metrics failed (disk full, read-only folder); nothing saved was lost."""

    exit_code = 1


class NothingToTrain(ChartuiError):
    """A resume whose budget is already spent: nothing was changed. Not a failure (exit 0)."""

    exit_code = 0


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

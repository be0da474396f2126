"""User-facing errors: one sentence that says what is wrong and what to do.

The CLI prints these without a traceback and exits with `exit_code`
(2: the input or the options are unusable).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BgeEvalError(Exception):
    """An error caused by the user's input, options or environment."""

    exit_code = 2


class ModelNotFoundError(BgeEvalError):
    """No checkpoint for the model was found locally or on the hub."""


class DataError(BgeEvalError):
    """A local dataset is missing or malformed; the message names the file and line."""


class ConfigError(BgeEvalError):
    """An option with a value the run cannot use; the message names the option both ways
    (the Python keyword and the command-line flag)."""


class UnknownNameError(BgeEvalError):
    """A task, benchmark or model name that does not exist."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean X?' suffix when a close match exists, else ''."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        return f" Did you mean {lowered[name.lower()]!r}?"
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def save_traceback(exc: BaseException) -> str:
    """Write the exception's full traceback to a new temporary file; its path."""
    import os
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="bge_eval-error-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(traceback.format_exception(exc)))
    return path


def is_disk_full(exc: BaseException) -> bool:
    """A full disk or quota: every later write fails too, so a run stops rather than going on."""
    import errno

    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def internal_error(exc: BaseException) -> int:
    """An unexpected failure: one line on stderr, the full traceback written to a file for the report."""
    import sys

    path = save_traceback(exc)
    print(f"bge_eval: internal error: {type(exc).__name__}: {str(exc)[:300]} (full traceback in {path}; "
          "please report it with that file).", file=sys.stderr)
    return 1

"""Errors that the CLI maps to exit codes: BadInput is the user's to fix (exit 2)."""
from __future__ import annotations


class SynthsceneError(Exception):
    """Anything synthscene reports without a traceback (exit 1)."""

    exit_code = 1


class BadInput(SynthsceneError):
    """Bad config, asset, path or gold set: the message names the file and the field."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        where = ": ".join(x for x in (self.file, field) if x)
        super().__init__(f"{where}: {message}" if where else message)


class Interrupted(SynthsceneError):
    """Ctrl-C: a clean stop; what was finished is kept and --resume continues."""

    exit_code = 130

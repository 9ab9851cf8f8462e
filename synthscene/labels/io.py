"""Atomic file writes (defined in synthscene.files; kept here for the label writers' imports)."""
from __future__ import annotations

from ..files import atomic_write  # noqa: F401

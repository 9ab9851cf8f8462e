"""Atomic file writes (defined in synthscene.core.files; kept here for the label writers' imports)."""
from __future__ import annotations

from ..core.files import atomic_write  # noqa: F401

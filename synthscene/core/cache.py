"""The user cache folder converted assets, silhouettes, generated shapes and hands are kept in."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where config `mesh:` entries are converted: $SYNTHSCENE_CACHE, else ~/.cache/synthscene/assets."""
    env = os.environ.get("SYNTHSCENE_CACHE")
    return Path(os.path.expanduser(env)) if env else Path.home() / ".cache" / "synthscene" / "assets"

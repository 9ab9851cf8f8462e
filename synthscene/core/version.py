"""synthscene's version and the versions of what shapes its output, recorded with each dataset and
benchmark (a leaf: importing it imports nothing of synthscene)."""
from __future__ import annotations

import sys

__version__ = "0.1.0"


def versions() -> dict[str, str]:
    """Versions of the libraries a dataset's bytes depend on, in the order config.resolved.yaml lists them."""
    from importlib.metadata import version

    import albumentations
    import cv2
    import numpy as np

    return {
        "synthscene": __version__,
        "pybullet": version("pybullet"),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "albumentations": albumentations.__version__,
        "python": sys.version.split()[0],
    }

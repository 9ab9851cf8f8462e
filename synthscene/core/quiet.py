"""PyBullet imported without its build-time banner, and trimesh's log kept to errors.

`import pybullet` prints "pybullet build time: …" from its C module, on file descriptor 2, so
every command began with it. Import it from here (`from ..core.quiet import pybullet as p`);
synthscene/__init__.py imports this module first, so no other import of pybullet in the package
comes first. Only the import is silenced: what PyBullet prints later (real warnings) still shows.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys


@contextlib.contextmanager
def quiet():
    """Silence what PyBullet's C code prints to stdout/stderr (EGL banners, importer warnings)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _import_pybullet():
    if "pybullet" in sys.modules:  # already imported (and its banner printed) by someone else
        return sys.modules["pybullet"]
    try:
        with quiet():
            import pybullet
    except OSError:  # no usable stdout/stderr descriptors (e.g. a windowless process): import as is
        import pybullet
    return pybullet


pybullet = _import_pybullet()

# trimesh logs warnings (through logging's last-resort handler, so on stderr) about material and
# attribute details that do not change the geometry synthscene reads; its errors still show.
logging.getLogger("trimesh").setLevel(logging.ERROR)

"""synthscene: labelled synthetic images for object detection, measured against real photographs."""
from __future__ import annotations

import os

# Offline: albumentations otherwise asks PyPI for a newer version when it is imported.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from .core.version import __version__  # noqa: E402,F401

from .core import quiet as _quiet  # noqa: E402,F401  (first: pybullet imported without its banner)

from .config import DatasetConfig, load_config  # noqa: E402
from .core.errors import BadInput, SynthsceneError  # noqa: E402


def generate(config, out=None, **kwargs):
    """Render a dataset; `config` is a DatasetConfig, a config file path or a mapping (see synthscene.generation.pipeline.generate)."""
    from .generation.pipeline import generate as _generate

    return _generate(config, out, **kwargs)


def prepare(config):
    """The config with its assets made render-ready (meshes converted, library assets found, URDFs
    checked); idempotent. generate and preview call it (see synthscene.assets.prepare.prepare)."""
    from .assets.prepare import prepare as _prepare

    return _prepare(config)


def refine(config_path, diagnosis_dir, out, images=None, overwrite=False, **kwargs):
    """A supplement config moved toward a diagnosis' failing slices (see synthscene.diagnosis.refine;
    keywords: force, check_images)."""
    from .diagnosis.refine import refine as _refine

    return _refine(config_path, diagnosis_dir, out, images=images, overwrite=overwrite, **kwargs)



from .commands.init_config import init_config  # noqa: E402

__all__ = ["DatasetConfig", "load_config", "prepare", "generate", "init_config", "refine", "BadInput", "SynthsceneError", "__version__"]

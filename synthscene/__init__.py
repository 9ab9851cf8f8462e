"""synthscene: labelled synthetic images for object detection, measured against real photographs."""
from __future__ import annotations

__version__ = "0.1.0"

from .renderers import _quiet  # noqa: E402,F401  (first: pybullet imported without its banner)

from .config import DatasetConfig, load_config  # noqa: E402
from .errors import BadInput, SynthsceneError  # noqa: E402


def generate(config, out=None, **kwargs):
    """Render a dataset; `config` is a DatasetConfig, a config file path or a mapping (see synthscene.pipeline.generate)."""
    from .pipeline import generate as _generate

    return _generate(config, out, **kwargs)


from .init_config import init_config  # noqa: E402

__all__ = ["DatasetConfig", "load_config", "generate", "init_config", "BadInput", "SynthsceneError", "__version__"]

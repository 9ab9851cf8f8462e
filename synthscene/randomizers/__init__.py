"""Domain randomizers: each samples one aspect of a scene from its own keyed random stream.

A randomizer only samples: it returns a frozen Draw (recorded in the manifest's `randomization`
field by its `to_record()`) and never touches the renderer. One module per randomizer, each
registering itself (`base.register`) with its config model; importing them here, in this order,
fills `REGISTRY` (the order of the config section, the draws and the manifest record).
"""
from . import pose, camera, lighting, occlusion, texture, background, post, shading  # noqa: F401,E401  (registers, in order)
from .base import REGISTRY, Context, Draw, Randomizer, register  # noqa: F401

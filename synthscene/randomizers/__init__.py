"""Domain randomizers: each samples one aspect of a scene from its own keyed random stream.

A randomizer only samples: it returns a frozen Draw (recorded in the manifest's `randomization`
field by its `to_record()`) and never touches the renderer. One module per randomizer, each
registering itself (`base.register`) with its config model. ORDER below, not the order of the
imports, is the order of the config section, of the draws and of the manifest record; the image
stage's order is `image.IMAGE_ORDER`.

Scene randomizers (pose, camera, occlusion) decide what is in the image and where; the others act
on its look (lighting, texture, background, shading, post).
"""
from . import background, camera, lighting, occlusion, pose, post, shading, texture  # noqa: F401  (each registers itself)
from .base import REGISTRY, Context, Draw, Randomizer, in_order, register  # noqa: F401

#: The draw order (each from its own stream, so this order only says who sees whose draw in the
#: Context, and the order of the config section and of the manifest's `randomization` keys).
#: A new randomizer goes last: the records of existing datasets keep their key order.
ORDER = ("pose", "camera", "lighting", "occlusion", "texture", "background", "post", "shading")
in_order(ORDER)

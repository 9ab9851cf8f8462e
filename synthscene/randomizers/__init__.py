"""Domain randomizers: each samples one aspect of a scene from its own keyed random stream.

A randomizer only samples: it returns plain data (recorded in the manifest's `randomization`
field) and never touches the renderer. One module per randomizer, each with its config model.
"""

"""Leaves every stage uses, importing nothing of synthscene outside core: errors, atomic files,
keyed random streams, field types and limits (schema), YAML reading, versions, the quiet PyBullet
import and the user cache folder."""

"""Tiny data for the training tests: a handful of real LM-O photos and a 160×120 synthetic config."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

SHARED = Path(__file__).resolve().parents[1] / "../shared"
GOLD = SHARED / "gold" / "lmo" / "yolo"
LMO = ["ape", "can", "cat", "driller", "duck", "eggbox", "glue", "holepuncher"]

needs_gold = pytest.mark.skipif(not GOLD.is_dir(), reason="../shared/gold is absent")


def small_gold(dst: Path, n: int, names: list[str] | None = None, start: int = 0) -> Path:
    """n gold photos (symlinked) and their labels in a flat YOLO folder.

    `names` reorders the classes (ids rewritten to follow the names); a class missing from it is
    renamed to the name at its own id.
    """
    names = names or LMO
    remap = {i: names.index(c) if c in names else i for i, c in enumerate(LMO)}
    (dst / "images").mkdir(parents=True)
    (dst / "labels").mkdir()
    for img in sorted((GOLD / "images").glob("*.png"))[start:start + n]:
        (dst / "images" / img.name).symlink_to(img)
        lines = [ln.split() for ln in (GOLD / "labels" / f"{img.stem}.txt").read_text().splitlines() if ln.strip()]
        (dst / "labels" / f"{img.stem}.txt").write_text("".join(" ".join([str(remap[int(p[0])]), *p[1:]]) + "\n" for p in lines))
    (dst / "data.yaml").write_text(yaml.safe_dump({"path": ".", "train": "images", "val": "images",
                                                   "names": dict(enumerate(names))}))
    return dst


def tiny_synthetic_config(dst: Path, count: int = 8) -> Path:
    """Bundled PyBullet objects standing in for four LM-O classes, at 160×120."""
    cfg = {
        "seed": 3, "count": count, "classes": LMO,
        "assets": [
            {"name": "duck", "urdf": "pybullet:duck_vhacd.urdf", "count": [0, 1]},
            {"name": "mug", "class": "can", "urdf": "pybullet:objects/mug.urdf", "count": [0, 1]},
            {"name": "teddy", "class": "cat", "urdf": "pybullet:teddy_vhacd.urdf", "count": [0, 1]},
            {"name": "lego", "class": "eggbox", "urdf": "pybullet:lego/lego.urdf", "count": [1, 1], "scale": 2.0},
        ],
        "camera": {"width": 160, "height": 120, "fov_deg": 50},
        "randomizers": {"pose": {"mode": "drop", "volume": {"x": [-0.1, 0.1], "y": [-0.1, 0.1], "z": [0.02, 0.1]}},
                        "camera": {"distance": [0.5, 0.7], "elevation_deg": [30, 70]}},
        "output": {"val_fraction": 0.25},
    }
    f = dst / "tiny.yaml"
    f.write_text(yaml.safe_dump(cfg))
    return f

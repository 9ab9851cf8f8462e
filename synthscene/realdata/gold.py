"""YOLO-format folders: reading gold sets and data.yaml files, and writing remapped views of them.

A view is a folder of symlinked images plus label files rewritten into another class order, so a
gold set is never modified (it is read-only data) and real images can be matched to a model's or a
synthetic dataset's classes by name.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core import yamlfile
from ..core.files import IMAGE_SUFFIXES
from ..core.errors import BadInput
from ..core.files import atomic_write
from ..labels.yolo import dataset_root



def class_names(doc: dict, file: Path) -> list[str]:
    names = doc.get("names")
    if isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise BadInput("`names` keys must be class ids 0..n-1", file, "names") from None
        if ids != list(range(len(ids))):
            raise BadInput(f"`names` ids must be 0..{len(ids) - 1} without gaps, got {ids}", file, "names")
        return [str(names[i] if i in names else names[str(i)]) for i in ids]
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    raise BadInput("expected `names`: a list or a mapping of class id → name", file, "names")


def read_data_yaml(file: Path) -> dict:
    """A data.yaml: YAML (read as configs are), holding a mapping."""
    doc = yamlfile.read_yaml(file, "data.yaml")
    if not isinstance(doc, dict):
        raise BadInput("expected a mapping (path, train, val, names)", file)
    return doc


@dataclass(frozen=True)
class GoldSet:
    """A YOLO folder: images/ and labels/ in the same layout, flat (images/*, labels/*.txt) or in
    split folders (images/val/*, labels/val/*.txt, as `generate` writes), and data.yaml with names."""

    root: Path
    names: list[str]
    images: list[Path]  # sorted by file name

    def label_of(self, image: Path) -> Path:
        try:
            return (self.root / "labels" / image.relative_to(self.root / "images")).with_suffix(".txt")
        except ValueError:  # not one of its own images: by name
            return self.root / "labels" / f"{image.stem}.txt"


def gold_names(root: Path) -> list[str]:
    """A gold folder's class names: data.yaml (or dataset.yaml) `names`, else classes.txt, one a line."""
    for f in (root / "data.yaml", root / "dataset.yaml"):
        if f.is_file():
            return class_names(read_data_yaml(f), f)
    f = root / "classes.txt"
    names = [ln.strip() for ln in f.read_text().splitlines() if ln.strip()] if f.is_file() else []
    if not names:
        raise BadInput("no data.yaml (with the class names) or classes.txt in the gold set folder", root, "--gold")
    return names


def load_gold(root: str | os.PathLike) -> GoldSet:
    """The one reader of a gold folder (evaluate, diagnose, benchmark, init): names, images and a labels/
    folder. Without labels/ every photo would count as empty and a model would score on nothing; an
    image without a label file inside labels/ has no objects, as in Ultralytics."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise BadInput("gold set folder not found", root, "--gold")
    names = gold_names(root)
    img_dir = root / "images"
    images = sorted((p for p in img_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                    key=lambda p: p.relative_to(img_dir).as_posix()) if img_dir.is_dir() else []
    if not images:
        raise BadInput("no images under images/ (expected a YOLO folder: images/*, labels/*.txt, flat or in "
                       "split folders such as images/val/)", root, "--gold")
    if len({p.name for p in images}) < len(images):
        raise BadInput("two images in different folders under images/ share a file name; give each a name of its own",
                       root, "--gold")
    if not (root / "labels").is_dir():
        raise BadInput("no labels/ folder beside images/: a gold set needs its boxes (labels/*.txt, "
                       "an empty file for a photo without objects)", root, "--gold")
    return GoldSet(root, names, images)


def yolo_rows(label: Path, n_classes: int) -> list[tuple[int, float, float, float, float]]:
    """(class id, cx, cy, w, h), normalised, per line of a YOLO label file; none when it is absent.
    A line that is not `class cx cy w h` with a class id below n_classes is BadInput naming it."""
    out = []
    if not label.is_file():
        return out
    for n, line in enumerate(label.read_text().splitlines(), 1):
        p = line.split()
        if not p:
            continue
        try:
            c, cx, cy, bw, bh = int(p[0]), *map(float, p[1:5])
        except ValueError:
            c = -1
        if not 0 <= c < n_classes:
            raise BadInput(f"line {n}: expected `class cx cy w h` with a class id in data.yaml, got {line!r}", label)
        out.append((c, cx, cy, bw, bh))
    return out


def bop_dir(root: Path) -> Path | None:
    """The BOP annotations of a gold set: root/bop or root/../bop with scene_gt.json and scene_gt_info.json."""
    for d in (root / "bop", root.parent / "bop"):
        if (d / "scene_gt.json").is_file() and (d / "scene_gt_info.json").is_file():
            return d
    return None


def bop_key(stem: str) -> str:
    """A photo's key in the BOP json files: its number without leading zeros."""
    return str(int(stem)) if stem.isdigit() else stem


def read_bop(bop: Path) -> tuple[dict, dict]:
    """scene_gt.json and scene_gt_info.json of a BOP folder."""
    try:
        return (json.loads((bop / "scene_gt.json").read_text()), json.loads((bop / "scene_gt_info.json").read_text()))
    except (OSError, ValueError) as err:
        raise BadInput(f"cannot read the BOP annotations ({err})", bop, "--gold") from None


def class_map(source: list[str], target: list[str], file: Path | str | None, what: str) -> dict[int, int]:
    """Source class id → target class id, by name; BadInput names every source class the target lacks."""
    index = {n: i for i, n in enumerate(target)}
    unknown = [n for n in source if n not in index]
    if unknown:
        raise BadInput(f"classes {unknown} are unknown to {what}, which has {target}", file, "names")
    return {i: index[n] for i, n in enumerate(source)}


def remap_label_text(text: str, mapping: dict[int, int], file: Path) -> str:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            cid = int(parts[0])
            [float(v) for v in parts[1:5]]
        except ValueError:
            raise BadInput(f"line {lineno}: expected `class cx cy w h`, got {line!r}", file) from None
        if len(parts) < 5 or cid not in mapping:
            raise BadInput(f"line {lineno}: class id {cid} is not in data.yaml's names or the line is short", file)
        out.append(" ".join([str(mapping[cid]), *parts[1:5]]))
    return "".join(line + "\n" for line in out)


def write_view(gold: GoldSet, images: list[Path], names: list[str], out: Path, what: str = "the model") -> Path:
    """A folder out/images (symlinks), out/labels (remapped into `names`), out/data.yaml; returns data.yaml."""
    mapping = class_map(gold.names, names, gold.root / "data.yaml", what)
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir(parents=True)
    for img in images:
        (out / "images" / img.name).symlink_to(img.resolve())
        lab = gold.label_of(img)
        text = lab.read_text() if lab.is_file() else ""  # an image without a label file has no objects
        atomic_write(out / "labels" / f"{img.stem}.txt", remap_label_text(text, mapping, lab))
    doc = {"path": str(out.resolve()), "train": "images", "val": "images", "names": dict(enumerate(names))}
    atomic_write(out / "data.yaml", yaml.safe_dump(doc, sort_keys=False))
    return out / "data.yaml"


def resolve_data_yaml(data: str | os.PathLike, scratch: Path) -> tuple[Path, list[str]]:
    """A dataset folder or data.yaml → a data.yaml Ultralytics reads as the user meant, and its names.

    The dataset is read where it is (labels.yolo.dataset_root): a copied or moved synthscene dataset
    from its own folder, a relative `path:` from the data.yaml's folder (not Ultralytics' working or
    datasets dir). When that is not what the file's `path` already says, the file is rewritten into `scratch`.
    """
    p = Path(data)
    file = p / "data.yaml" if p.is_dir() else p
    if not file.is_file():
        raise BadInput("no data.yaml here: give a synthscene dataset folder or a data.yaml", p, "DATASET")
    doc = read_data_yaml(file)
    names = class_names(doc, file)
    base = dataset_root(file, doc)
    for split in ("train", "val"):
        entries = doc.get(split)
        if entries is None:
            raise BadInput(f"`{split}` is missing", file, split)
        for e in entries if isinstance(entries, list) else [entries]:
            if not (base / str(e)).exists():
                raise BadInput(f"`{split}` points at {base / str(e)}, which does not exist", file, split)
    if doc.get("path") and Path(str(doc["path"])) == base:
        return file.resolve(), names
    doc = {**doc, "path": str(base)}
    scratch.mkdir(parents=True, exist_ok=True)
    out = scratch / "data.yaml"
    atomic_write(out, yaml.safe_dump(doc, sort_keys=False))
    return out, names


def file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()

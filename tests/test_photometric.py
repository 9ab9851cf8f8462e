"""Photometric check of the labels (labels/photometric.py): contrast against the surround, recorded
per object, `labels.min_contrast` dropping what no eye could see, and `inspect` counting it."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, small_config

from synthscene.config import config_from_dict
from synthscene.diagnosis.inspect import inspect_dataset
from synthscene.labels.photometric import LOW_CONTRAST, label_contrast, measure


def _square(bg, fg, size=100):
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = bg
    mask = np.zeros((size, size), bool)
    mask[30:70, 30:70] = True
    img[mask] = fg
    return img, mask


def test_dark_on_dark_is_low_and_bright_on_dark_is_high():
    lum, low = measure(*_square((10, 10, 10), (14, 14, 14)))
    assert lum == 14.0 and low < LOW_CONTRAST
    lum, high = measure(*_square((10, 10, 10), (230, 230, 230)))
    assert lum == 230.0 and high > 0.8


def test_colour_counts_and_noise_does_not():
    """A pink square on a blue ground of about the same luma is plain to see; noise on black is not."""
    img, mask = _square((60, 60, 200), (200, 60, 120))
    assert measure(img, mask)[1] > 0.5
    rng = np.random.default_rng(0)
    img, mask = _square((3, 3, 3), (3, 3, 3))
    noisy = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    assert measure(noisy, mask)[1] < LOW_CONTRAST


def test_no_pixels_or_no_ring_gives_none():
    img = np.full((20, 20, 3), 50, np.uint8)
    assert measure(img, np.zeros((20, 20), bool)) == (None, None)
    assert measure(img, np.ones((20, 20), bool)) == (50.0, None)


def test_min_contrast_default_keeps_the_config_hash():
    base = config_from_dict(small_config())
    assert base.labels.min_contrast == LOW_CONTRAST
    assert "min_contrast" not in base.to_dict()["labels"]
    assert config_from_dict(small_config(labels={"min_contrast": LOW_CONTRAST})).content_hash() == base.content_hash()
    assert config_from_dict(small_config(labels={"min_contrast": 0.0})).content_hash() != base.content_hash()


@pytest.fixture(scope="module")
def dark(tmp_path_factory):
    """A near-black render (light intensity ~0), generated without `min_contrast` and with its default."""
    root = tmp_path_factory.mktemp("dark")
    out = {}
    for name, labels in (("off", {"min_contrast": 0.0}), ("on", {})):  # the default is on
        data = small_config(count=4, labels=labels)
        data["randomizers"]["lighting"] = {"intensity": [0.0, 0.01]}
        cfg = root / f"{name}.yaml"
        cfg.write_text(json.dumps(data))
        run_cli("generate", cfg, "--out", root / name)
        out[name] = root / name
    return out


def _objects(ds):
    return [(r, o) for line in (ds / "manifest.jsonl").read_text().splitlines()
            for r in [json.loads(line)] for o in r["objects"]]


def test_near_black_render_gives_low_contrast_labels_and_min_contrast_drops_them(dark):
    off = _objects(dark["off"])
    visible = [o for _, o in off if o["bbox_xyxy"] is not None]
    assert visible and all(o["contrast"] is not None and o["contrast"] < LOW_CONTRAST for o in visible)
    assert all(o["luminance"] < 5 for o in visible)
    assert any(o["kept"] for o in visible)  # without the option they are labelled ...
    on = _objects(dark["on"])
    for r, o in on:  # ... with it, none is
        if o["bbox_xyxy"] is not None and o["visibility"] >= 0.1:
            assert not o["kept"] and o["dropped"] == "min_contrast"
    for r, _ in on:
        label = dark["on"] / r["file"].replace("images/", "labels/").replace(".jpg", ".txt")
        assert not label.exists() or label.read_text().strip() == ""
    # same images either way: the option only filters labels
    for r, _ in on:
        assert (dark["on"] / r["file"]).read_bytes() == (dark["off"] / r["file"]).read_bytes()


def test_inspect_reports_the_share_of_low_contrast_labels(dark, tmp_path):
    summary = inspect_dataset(dark["off"], tmp_path / "rep")
    lc = summary["low_contrast"]
    assert lc["threshold"] == LOW_CONTRAST and lc["labels"] > 0 and lc["share"] == 1.0
    assert "Labels an eye could not see" in (tmp_path / "rep" / "report.md").read_text()
    on = label_contrast(dark["on"])
    assert on["labels"] == 0 and on["dropped_min_contrast"] > 0

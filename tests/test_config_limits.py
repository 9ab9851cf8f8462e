"""Configs that would exhaust memory or fail far from the config are refused at load time, as
BadInput (exit 2) naming the file and the field or line: alias bombs, duplicate keys, NaN and
infinity, negative or absurd counts, asset names with a trailing newline."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import refused, run_main, small_config
from synthscene import load_config
from synthscene.config import config_from_dict
from synthscene.core.errors import BadInput
from synthscene.core.schema import (
    MAX_ASSET_COUNT,
    MAX_IMAGE_SIDE,
    MAX_IMAGES,
    MAX_OBJECTS_PER_IMAGE,
    MAX_TRANSFORM_NODES,
    MAX_YAML_NODES,
)
from synthscene.assets.library_add import add_asset

ROOT = Path(__file__).resolve().parents[1]

POST = """\
randomizers:
  post:
    transform:
      __version__: "2.0.8"
      transform: {__class_fullname__: Compose, p: 1.0, transforms: [{__class_fullname__: Blur, p: 0.5}]}
"""
BOMB = POST + """\
      a: &a [x, x, x, x, x, x, x, x, x, x]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
"""
HEAD = 'seed: 1\ncount: 2\nassets:\n  - {name: duck, urdf: "pybullet:duck_vhacd.urdf"}\n'


def with_value(path: str, value: str) -> str:
    """HEAD plus `a.b.c: VALUE` written as YAML flow mappings; `assets[0].x` goes into the asset."""
    if path.startswith("assets[0]."):
        return HEAD.replace('duck_vhacd.urdf"}', f'duck_vhacd.urdf", {path.removeprefix("assets[0].")}: {value}}}')
    if path in ("seed", "count"):
        return HEAD.replace(f"{path}: ", f"{path}: {value} # ")
    keys = path.split(".")
    return HEAD + "".join(f"{k}: {{" for k in keys[:-1]) + f"{keys[-1]}: {value}" + "}" * (len(keys) - 1) + "\n"


# --- YAML: alias bombs, cycles, duplicate keys ------------------------------------------------

def test_alias_bomb_is_refused_naming_the_line(write_config, tmp_path, monkeypatch, capsys):
    msg = refused(write_config, HEAD + BOMB)
    assert "line 14" in msg and f"{MAX_YAML_NODES:,}" in msg  # the alias that crossed the bound
    code, err = run_main(monkeypatch, capsys, "generate", write_config(HEAD + BOMB), "--out", tmp_path / "o")
    assert code == 2 and "aliases" in err
    assert not (tmp_path / "o").exists()


def test_alias_cycle_is_refused(write_config):
    msg = refused(write_config, HEAD + "classes: &c [duck, *c]\n")
    assert "line 5" in msg and "contains it" in msg


def test_a_few_anchors_and_merge_keys_still_load(write_config):
    text = """\
seed: 1
count: 2
assets:
  - &base {name: duck, urdf: "pybullet:duck_vhacd.urdf", count: [0, 2]}
  - {<<: *base, name: duck2}
randomizers:
  lighting: {ambient: &amb [0.4, 0.6], diffuse: *amb}
"""
    cfg = load_config(write_config(text))
    assert [a.name for a in cfg.assets] == ["duck", "duck2"] and cfg.assets[1].count == (0, 2)
    assert cfg.randomizers.lighting.diffuse == (0.4, 0.6)
    plain = load_config(write_config(yaml.safe_dump(yaml.safe_load(text)), "plain.yaml"))
    assert cfg.content_hash() == plain.content_hash()


@pytest.mark.parametrize("text, line, key", [
    (HEAD + "seed: 2\n", 5, "'seed'"),
    (HEAD + "camera: {width: 96, height: 72, width: 128}\n", 5, "'width'"),
    (HEAD + "randomizers:\n  pose: {mode: free}\n  pose: {mode: drop}\n", 7, "'pose'"),
])
def test_duplicate_keys_are_refused(write_config, text, line, key):
    msg = refused(write_config, text)
    assert f"line {line}" in msg and "duplicate key" in msg and key in msg


# --- randomizers.post: only albumentations' own serialised form, bounded -------------------------

def test_post_transform_extra_keys_are_refused(write_config):
    msg = refused(write_config, HEAD + POST + "      junk: [1, 2, 3]\n")
    assert "randomizers.post.transform" in msg and "junk" in msg


def test_post_transform_unknown_argument_is_refused(write_config):
    msg = refused(write_config, HEAD + POST.replace("Blur, p: 0.5", "Blur, p: 0.5, junk: 1"))
    assert "randomizers.post.transform" in msg and "junk" in msg


def test_post_transform_is_bounded_before_it_is_built():
    """A valid but huge pipeline (here one shared transform listed thousands of times, as an alias
    would give) is refused by its size, before albumentations builds it."""
    blur = {"__class_fullname__": "Blur", "p": 0.5}
    spec = {"transform": {"__class_fullname__": "Compose", "p": 1.0, "transforms": [blur] * (MAX_TRANSFORM_NODES // 3 + 1)}}
    with pytest.raises(BadInput, match=f"randomizers.post.transform: more than {MAX_TRANSFORM_NODES:,} values"):
        config_from_dict(small_config(randomizers={"post": {"transform": spec}}), source="c.yaml")


# --- numbers: NaN, infinity, negative or absurd counts ------------------------------------------

@pytest.mark.parametrize("path, value", [
    ("camera.fov_deg", ".inf"),
    ("camera.intrinsics", "{fx: .nan, fy: 100, cx: 10, cy: 10}"),
    ("camera.intrinsics", "{fx: 100, fy: 100, cx: .inf, cy: 10}"),
    ("camera.near", ".nan"),
    ("assets[0].mass", ".inf"),
    ("assets[0].scale", ".inf"),
    ("assets[0].count", "[0, .inf]"),
    ("randomizers.camera.distance", "[0.5, .inf]"),
    ("randomizers.camera.look_at", "[0, 0, .nan]"),
    ("randomizers.camera.look_at_jitter", ".nan"),
    ("randomizers.lighting.intensity", "[.nan, 1.0]"),
    ("randomizers.lighting.shadow_probability", ".nan"),
    ("randomizers.pose.volume.x", "[-.inf, 0.1]"),
    ("randomizers.pose.pile.radius", ".inf"),
    ("randomizers.background.weights.images", ".inf"),
    ("randomizers.texture.tiles_per_m", "[2, .inf]"),
    ("labels.min_visibility", ".nan"),
    ("randomizers.post.transform", "{transform: {__class_fullname__: GaussianBlur, p: 0.5, sigma_limit: [0.1, .nan]}}"),
])
def test_nan_and_infinity_are_refused_naming_the_field(write_config, path, value):
    assert path in refused(write_config, with_value(path, value))


@pytest.mark.parametrize("path, value", [
    ("randomizers.pose.max_tries", "-1"),
    ("randomizers.pose.max_tries", "0"),
    ("randomizers.pose.settle_steps", "-5"),
    ("randomizers.camera.intrinsics_jitter", "1.5"),
    ("randomizers.camera.look_at_jitter", "-0.1"),
    ("randomizers.camera.distance", "[0, 1]"),
    ("randomizers.lighting.shadow_probability", "2"),
    ("randomizers.occlusion.distractors", "[-2, 1]"),
])
def test_negative_and_out_of_range_numbers_are_refused(write_config, path, value):
    assert path in refused(write_config, with_value(path, value))


@pytest.mark.parametrize("path, value", [
    ("count", str(10**12)),
    ("count", str(MAX_IMAGES + 1)),
    ("assets[0].count", "[1.0e+6, 1.0e+6]"),
    ("assets[0].count", f"[0, {MAX_ASSET_COUNT + 1}]"),
    ("randomizers.occlusion.distractors", f"[0, {MAX_ASSET_COUNT + 1}]"),
    ("camera.width", str(MAX_IMAGE_SIDE + 1)),
])
def test_counts_and_sizes_are_bounded(write_config, path, value):
    msg = refused(write_config, with_value(path, value))
    assert path in msg and ("less than or equal" in msg or "<=" in msg)


def test_the_limits_themselves_are_accepted(write_config):
    cfg = load_config(write_config(with_value("assets[0].count", f"[0, {MAX_ASSET_COUNT}]").replace(
        "count: 2", f"count: {MAX_IMAGES}", 1)))
    assert cfg.count == MAX_IMAGES and cfg.assets[0].count == (0, MAX_ASSET_COUNT)


def test_objects_per_image_are_bounded(write_config):
    assets = "".join(f'  - {{name: a{k}, urdf: "pybullet:duck_vhacd.urdf", count: [0, {MAX_ASSET_COUNT}]}}\n'
                     for k in range(MAX_OBJECTS_PER_IMAGE // MAX_ASSET_COUNT + 1))
    msg = refused(write_config, "seed: 1\ncount: 2\nassets:\n" + assets)
    assert "objects per image" in msg and str(MAX_OBJECTS_PER_IMAGE) in msg


def test_count_override_is_bounded_before_anything_is_written(write_config, tmp_path, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, "generate", write_config(HEAD), "--out", tmp_path / "o",
                         "--count", str(10**12))
    assert code == 2 and "count" in err and str(MAX_IMAGES) in err
    assert not (tmp_path / "o").exists()


def test_limits_are_documented():
    doc = (ROOT / "docs" / "RANDOMIZERS.md").read_text()
    for name, value in [("MAX_IMAGES", MAX_IMAGES), ("MAX_ASSET_COUNT", MAX_ASSET_COUNT),
                        ("MAX_OBJECTS_PER_IMAGE", MAX_OBJECTS_PER_IMAGE), ("MAX_IMAGE_SIDE", MAX_IMAGE_SIDE),
                        ("MAX_YAML_NODES", MAX_YAML_NODES), ("MAX_TRANSFORM_NODES", MAX_TRANSFORM_NODES)]:
        assert re.search(rf"`{name}`.*{value:,}", doc), name


# --- asset names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["evil\\n", "evil/x", "-x", "a b"])
def test_config_asset_names_are_plain(write_config, name):
    msg = refused(write_config, HEAD.replace("name: duck", f'name: "{name}"'))
    assert "assets[0].name" in msg and "letters, digits" in msg


def test_library_asset_name_with_trailing_newline_is_refused(tmp_path):
    mesh = tmp_path / "box.obj"
    mesh.write_text("v 0 0 0\nv 0.05 0 0\nv 0 0.05 0\nv 0 0 0.05\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    with pytest.raises(BadInput) as err:
        add_asset(mesh, "evil\n", tmp_path / "lib")
    assert err.value.field == "--name"
    assert not (tmp_path / "lib").exists()


def test_assets_add_cli_refuses_a_name_with_trailing_newline(tmp_path, monkeypatch, capsys):
    mesh = tmp_path / "box.obj"
    mesh.write_text("v 0 0 0\nv 0.05 0 0\nv 0 0.05 0\nv 0 0 0.05\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    code, err = run_main(monkeypatch, capsys, "assets", "add", mesh, "--name", "evil\n", "--library", tmp_path / "lib")
    assert code == 2 and "--name" in err
    assert not (tmp_path / "lib").exists()


def test_a_mesh_file_name_with_spaces_gives_a_plain_default_asset_name(tmp_path):
    from test_bad_input import CUBE_OBJ

    (tmp_path / "my mesh (1).obj").write_text(CUBE_OBJ)
    cfg = tmp_path / "c.yaml"
    cfg.write_text('assets: [{mesh: "my mesh (1).obj", units: m}]\ncamera: {width: 64, height: 48, fov_deg: 50}\n')
    assert load_config(cfg).assets[0].name == "my_mesh__1"

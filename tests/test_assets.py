"""Assets: every format converts, loads and renders; units; the cache; bad assets fail clearly."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from synthscene import BadInput, load_config, prepare
from synthscene.config import config_from_dict
from synthscene.assets import prepare as assets
from synthscene.assets.prepare import AssetWarning, build, make_ready
from synthscene.assets.inspect import render_views


def prepared(data, base_dir, source="<config>"):
    """A config loaded (pure) then prepared: its assets converted, looked up and checked."""
    return prepare(config_from_dict(data, base_dir, source))


SIDE = (0.08, 0.08, 0.08)  # metres


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Every test converts into its own cache and library, never the user's."""
    monkeypatch.setenv("SYNTHSCENE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHSCENE_LIBRARY", str(tmp_path / "library"))


def two_colour_box(extents=SIDE) -> trimesh.Trimesh:
    """Top face red, all others blue: a flipped or shifted colour bake shows as the wrong colour.

    Corners are not shared between faces, so per-vertex formats (PLY, glTF) keep the colours apart.
    """
    box = trimesh.creation.box(extents)
    colours = np.tile([0, 0, 255, 255], (len(box.faces), 1)).astype(np.uint8)
    colours[box.face_normals[:, 2] > 0.9] = [255, 0, 0, 255]
    out = trimesh.Trimesh(box.vertices[box.faces].reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False)
    out.visual.vertex_colors = np.repeat(colours, 3, axis=0)
    return out


def textured_box(folder: Path, suffix: str = "obj") -> Path:
    """OBJ + MTL (or GLB) with a 30×30 (not a multiple of 4) green texture."""
    box = trimesh.creation.box(SIDE)
    box = trimesh.Trimesh(box.vertices[box.faces].reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False)
    uv = np.tile([[0.2, 0.2], [0.8, 0.2], [0.5, 0.8]], (12, 1))
    img = Image.new("RGB", (30, 30), (20, 200, 40))
    box.visual = trimesh.visual.TextureVisuals(uv=uv, image=img)
    folder.mkdir(parents=True, exist_ok=True)
    box.export(folder / f"box.{suffix}")
    return folder / f"box.{suffix}"


def object_pixels(urdf, scale=1.0, view=(30.0, 60.0), distance=None):
    r = render_views(urdf, scale, views=[view], distance=distance)[0]
    mask = r.segmentation >= 0
    return r, mask, r.rgb[mask].astype(float)


def _urdf_for(mesh_name: str, folder: Path) -> Path:
    urdf = folder / "model.urdf"
    urdf.write_text(f"""<robot name="t"><link name="base">
  <inertial><mass value="0.1"/><inertia ixx="1e-4" ixy="0" ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial>
  <visual><geometry><mesh filename="{mesh_name}"/></geometry></visual>
  <collision><geometry>{f'<mesh filename="{mesh_name}"/>' if mesh_name else '<box size="0.08 0.08 0.08"/>'}</geometry></collision>
</link></robot>""")
    return urdf


# ---- formats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["ply", "glb", "gltf", "obj"])
def test_coloured_mesh_formats_render_their_colours(tmp_path, suffix):
    """Per-vertex colours (PLY as in BOP, glTF/GLB, OBJ `v x y z r g b`): red on top, blue on the sides."""
    box = two_colour_box()
    if suffix in ("glb", "gltf"):  # glTF is Y-up: its red top faces +Y in the file
        box.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    src = tmp_path / f"box.{suffix}"
    if suffix == "gltf":
        for name, data in trimesh.exchange.gltf.export_gltf(box).items():
            (tmp_path / name).write_bytes(data)
        src = tmp_path / "model.gltf"
    else:
        box.export(src)
    built = build(src, name="box", collision="box")
    png = [Image.open(f) for f in built.urdf.parent.glob("*.png")]
    assert png and all(im.width % 4 == 0 and im.height % 4 == 0 for im in png)
    _, mask, top = object_pixels(built.urdf, view=(30.0, 89.0))  # from straight above: the red top
    assert mask.sum() > 500
    assert top.mean(0)[0] > 2 * top.mean(0)[2], top.mean(0)
    _, _, side = object_pixels(built.urdf, view=(0.0, 0.0))  # from the side: blue
    assert side.mean(0)[2] > 2 * side.mean(0)[0], side.mean(0)


@pytest.mark.parametrize("suffix", ["obj", "glb"])
def test_image_textures_render_textured(tmp_path, suffix):
    src = textured_box(tmp_path / "src", suffix)
    built = build(src, name="tex", collision="convex")
    assert built.report.colour == "texture"
    pngs = list(built.urdf.parent.glob("*.png"))
    assert [Image.open(f).size for f in pngs] == [(32, 32)]  # 30×30 resized to a power of two
    assert built.key[:12] in pngs[0].name  # a file name of its own per asset
    _, mask, px = object_pixels(built.urdf)
    assert mask.sum() > 500
    r, g, b = px.mean(0)
    assert g > 2 * r and g > 2 * b, (r, g, b)


def test_stl_renders_in_default_grey(tmp_path):
    src = tmp_path / "box.stl"
    trimesh.creation.box(SIDE).export(src)
    built = build(src, name="stl")
    assert built.report.colour == "none" and built.report.watertight
    _, mask, px = object_pixels(built.urdf)
    assert mask.sum() > 500 and px.mean() > 60
    assert np.ptp(px.mean(0)) < 10  # grey: no channel dominates
    box = trimesh.creation.box(SIDE)
    trimesh.Trimesh(box.vertices, box.faces[:-2]).export(tmp_path / "open.stl")  # one side missing
    assert not build(tmp_path / "open.stl", name="open", collision="box").report.watertight


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_urdf_source_loads_as_is(tmp_path):
    trimesh.creation.box(SIDE).export(tmp_path / "box.stl")
    urdf = _urdf_for("box.stl", tmp_path)
    ready = make_ready(urdf, name="u", field="urdf")
    assert ready.urdf == urdf and ready.report is None
    _, mask, _ = object_pixels(urdf)
    assert mask.sum() > 500


def test_config_mesh_entry_resolves_to_a_plain_urdf_entry(tmp_path):
    two_colour_box().export(tmp_path / "box.glb")
    cfg = prepared({"assets": [{"mesh": "box.glb", "class": "box", "collision": "sphere", "recentre": True}]}, tmp_path)
    a = cfg.assets[0]
    assert a.name == "box" and a.mesh is None and a.urdf.endswith("model.urdf") and a.source == str(tmp_path / "box.glb")
    assert Path(a.urdf).is_relative_to(tmp_path / "cache")
    assert "<sphere" in Path(a.urdf).read_text()
    # The resolved config is itself a valid config naming the same URDF (resolving again is a no-op).
    again = prepared(cfg.to_dict(), tmp_path)
    assert again.assets[0].urdf == a.urdf and again.assets[0].scale == a.scale


def test_vhacd_collision_is_a_convex_decomposition(tmp_path):
    # An L-shaped solid: a single convex hull would fill the notch, V-HACD keeps it.
    l_shape = trimesh.util.concatenate([trimesh.creation.box((0.1, 0.03, 0.03), transform=trimesh.transformations.translation_matrix((0.0, -0.035, 0))),
                                        trimesh.creation.box((0.03, 0.1, 0.03), transform=trimesh.transformations.translation_matrix((-0.035, 0.0, 0)))])
    l_shape.export(tmp_path / "l.stl")
    built = build(tmp_path / "l.stl", name="l", collision="vhacd")
    parts = [f for f in built.urdf.parent.glob("*_collision.obj")]
    assert len(parts) == 1
    text = parts[0].read_text()
    assert text.count("\no ") + text.startswith("o ") >= 2  # more than one convex piece
    hull_volume = l_shape.convex_hull.volume
    pieces = trimesh.load(parts[0], force="scene", process=False).dump()
    assert sum(p.volume for p in pieces) < 0.9 * hull_volume


# ---- units -----------------------------------------------------------------------------------

@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_100_mm_cube_in_mm_renders_exactly_like_a_0_1_m_cube_in_m(tmp_path):
    trimesh.creation.box((100.0, 100.0, 100.0)).export(tmp_path / "mm.stl")
    trimesh.creation.box((0.1, 0.1, 0.1)).export(tmp_path / "m.stl")
    cfg = prepared({"assets": [{"name": "mm", "mesh": "mm.stl", "units": "mm"}, {"name": "m", "mesh": "m.stl"}]}, tmp_path)
    masks = [object_pixels(a.urdf, a.scale, distance=0.5)[1] for a in cfg.assets]
    assert masks[0].sum() > 1000
    assert np.array_equal(masks[0], masks[1])
    # A URDF in millimetres: `units` becomes the load scale.
    trimesh.creation.box((100.0, 100.0, 100.0)).export(tmp_path / "mmbox.stl")
    _urdf_for("mmbox.stl", tmp_path)
    cfg = prepared({"assets": [{"name": "u", "urdf": "model.urdf", "units": "mm"}]}, tmp_path)
    assert cfg.assets[0].scale == pytest.approx(0.001)
    assert np.array_equal(object_pixels(cfg.assets[0].urdf, cfg.assets[0].scale, distance=0.5)[1], masks[1])


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_scale_multiplies_and_cm_units(tmp_path):
    trimesh.creation.box((10.0, 10.0, 10.0)).export(tmp_path / "cm.stl")
    trimesh.creation.box((0.05, 0.05, 0.05)).export(tmp_path / "half.stl")
    cfg = prepared({"assets": [{"name": "cm", "mesh": "cm.stl", "units": "cm"},
                                       {"name": "half", "mesh": "half.stl", "scale": 2.0}]}, tmp_path)
    masks = [object_pixels(a.urdf, a.scale, distance=0.5)[1] for a in cfg.assets]
    assert abs(int(masks[0].sum()) - int(masks[1].sum())) <= 0.01 * masks[0].sum()


def test_recentre_moves_the_origin_to_the_box_centre(tmp_path):
    trimesh.creation.box(SIDE, transform=trimesh.transformations.translation_matrix((0.5, 0, 0))).export(tmp_path / "off.stl")
    plain = build(tmp_path / "off.stl", name="a", collision="box")
    centred = build(tmp_path / "off.stl", name="a", collision="box", recentre=True)
    v = lambda b: trimesh.load(next(b.urdf.parent.glob("*_visual0.obj")), force="mesh").bounds.mean(0)  # noqa: E731
    assert v(plain)[0] == pytest.approx(0.5, abs=1e-6)
    assert np.allclose(v(centred), 0, atol=1e-6)


# ---- cache -----------------------------------------------------------------------------------

def test_cache_is_reused_not_rebuilt(tmp_path, monkeypatch):
    calls = []
    real = assets.convert_source
    monkeypatch.setattr(assets, "convert_source", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    src = tmp_path / "box.ply"
    two_colour_box().export(src)
    data = {"assets": [{"name": "box", "mesh": "box.ply", "collision": "convex"}]}
    first = prepared(data, tmp_path).assets[0].urdf
    mtime = Path(first).stat().st_mtime_ns
    second = prepared(data, tmp_path).assets[0].urdf
    assert first == second and len(calls) == 1 and Path(first).stat().st_mtime_ns == mtime
    assert build(src, name="box", collision="convex").cached
    # A different option or changed content is a different key: converted again.
    prepared({"assets": [{**data["assets"][0], "collision": "box"}]}, tmp_path)
    trimesh.creation.box((0.05, 0.06, 0.07)).export(src)
    third = prepared(data, tmp_path).assets[0].urdf
    assert len(calls) == 3 and third != first
    info = json.loads((Path(third).parent / "build.json").read_text())
    assert info["report"]["extents"] == pytest.approx([0.05, 0.06, 0.07])
    next(Path(third).parent.glob("*.png")).unlink()  # a damaged cache entry is rebuilt, not trusted
    assert prepared(data, tmp_path).assets[0].urdf == third and len(calls) == 4
    assert next(Path(third).parent.glob("*.png")).is_file()


def test_load_config_converts_nothing_prepare_converts_once(tmp_path, monkeypatch):
    """Loading is pure (read, validate); `prepare` converts into the cache; preparing again does nothing."""
    two_colour_box().export(tmp_path / "box.ply")
    (tmp_path / "c.yaml").write_text("assets: [{mesh: box.ply, collision: box}]\n")
    cache = tmp_path / "cache"
    cfg = load_config(tmp_path / "c.yaml")
    assert not cache.exists() or not any(cache.iterdir())
    assert cfg.assets[0].mesh == str(tmp_path / "box.ply") and cfg.assets[0].urdf is None
    ready = prepare(cfg)
    a = ready.assets[0]
    assert any(cache.iterdir()) and a.mesh is None and Path(a.urdf).is_relative_to(cache)
    calls = []
    monkeypatch.setattr(assets, "make_ready", lambda *a, **k: calls.append(a))
    assert prepare(ready) is ready and prepare(ready.with_overrides(count=3)).assets == ready.assets
    assert calls == []


# ---- bad assets ------------------------------------------------------------------------------

def _bad(tmp_path, entry: dict, *needles: str) -> None:
    with pytest.raises(BadInput) as err:
        prepared({"assets": [entry]}, tmp_path, "cfg.yaml")
    for n in needles:
        assert n in str(err.value), str(err.value)


def test_missing_file(tmp_path):
    _bad(tmp_path, {"name": "x", "mesh": "nope.ply"}, "nope.ply", "not found")
    with pytest.raises(BadInput, match="nope.obj"):
        build(tmp_path / "nope.obj", name="x")


def test_unreadable_and_empty_meshes(tmp_path):
    (tmp_path / "junk.ply").write_bytes(b"\x00\x01garbage that is not a mesh\xff" * 10)
    _bad(tmp_path, {"name": "x", "mesh": "junk.ply"}, "junk.ply")
    (tmp_path / "empty.obj").write_text("")
    _bad(tmp_path, {"name": "x", "mesh": "empty.obj"}, "empty.obj", "no triangles")
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(tmp_path / "points.ply")
    _bad(tmp_path, {"name": "x", "mesh": "points.ply"}, "points.ply", "no triangles")
    (tmp_path / "mesh.xyz").write_text("1 2 3\n")
    _bad(tmp_path, {"name": "x", "mesh": "mesh.xyz"}, "mesh.xyz", "unsupported")


def test_degenerate_geometry(tmp_path):
    (tmp_path / "line.obj").write_text("v 0 0 0\nv 0.1 0 0\nv 0.2 0 0\nf 1 2 3\n")
    _bad(tmp_path, {"name": "x", "mesh": "line.obj"}, "line.obj", "degenerate")


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_absurd_and_implausible_sizes(tmp_path):
    trimesh.creation.box((100.0, 100.0, 100.0)).export(tmp_path / "mm.stl")
    _bad(tmp_path, {"name": "x", "mesh": "mm.stl"}, "mm.stl", "absurd size", "units")  # mm read as metres
    _bad(tmp_path, {"name": "x", "mesh": "mm.stl", "units": "mm", "scale": 1e-4}, "mm.stl", "absurd size")
    trimesh.creation.box((2.0, 2.0, 2.0)).export(tmp_path / "tiny.stl")
    with pytest.warns(AssetWarning, match="tiny.stl.*implausible size"):
        prepared({"assets": [{"name": "x", "mesh": "tiny.stl", "units": "mm"}]}, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AssetWarning)  # a plausible size gives no warning
        prepared({"assets": [{"name": "x", "mesh": "tiny.stl", "units": "cm"}]}, tmp_path)


def test_missing_texture_and_material(tmp_path):
    src = textured_box(tmp_path / "src")
    next((tmp_path / "src").glob("*.png")).unlink()
    _bad(tmp_path, {"name": "x", "mesh": "src/box.obj"}, "box.obj", "missing texture", ".png")
    src = textured_box(tmp_path / "src2")
    next((tmp_path / "src2").glob("*.mtl")).unlink()
    _bad(tmp_path, {"name": "x", "mesh": "src2/box.obj"}, "box.obj", "missing material")
    # A URDF whose visual OBJ lost its texture is refused too.
    src = textured_box(tmp_path / "src3")
    _urdf_for("box.obj", tmp_path / "src3")
    next((tmp_path / "src3").glob("*.png")).unlink()
    _bad(tmp_path, {"name": "x", "urdf": "src3/model.urdf"}, "box.obj", "missing texture")
    assert src.exists()


def test_urdf_texture_width_not_a_multiple_of_4_warns(tmp_path):
    textured_box(tmp_path / "src")  # its texture is 30 px wide
    urdf = _urdf_for("box.obj", tmp_path / "src")
    with pytest.warns(AssetWarning, match="model.urdf: texture .*30×30.*multiple of 4"):
        make_ready(urdf, name="u", field="urdf")


def test_bad_urdfs(tmp_path):
    _urdf_for("gone.stl", tmp_path)
    _bad(tmp_path, {"name": "x", "urdf": "model.urdf"}, "model.urdf", "missing mesh", "gone.stl")
    (tmp_path / "broken.urdf").write_text("<robot><link")
    _bad(tmp_path, {"name": "x", "urdf": "broken.urdf"}, "broken.urdf", "XML")
    trimesh.creation.box(SIDE).export(tmp_path / "box.stl")
    _urdf_for("box.stl", tmp_path)
    _bad(tmp_path, {"name": "x", "urdf": "model.urdf", "collision": "box"}, "collision", "mesh")


def test_entry_needs_exactly_one_source(tmp_path):
    trimesh.creation.box(SIDE).export(tmp_path / "box.stl")
    _urdf_for("box.stl", tmp_path)
    _bad(tmp_path, {"name": "x"}, "exactly one of")
    _bad(tmp_path, {"name": "x", "mesh": "box.stl", "urdf": "model.urdf"}, "exactly one of")
    _bad(tmp_path, {"name": "x", "mesh": "box.stl", "units": "inch"}, "units")


# ---- pose constraint -------------------------------------------------------------------------

def test_upright_assets_keep_z_up_and_a_uniform_heading(tmp_path):
    from scipy.spatial.transform import Rotation

    from synthscene.randomizers.pose import heading as upright
    from synthscene.scenes.sampler import AssetInfo, sample_scene

    qs = Rotation.random(400, random_state=np.random.default_rng(1)).as_quat()
    ups = Rotation.from_quat([upright(q) for q in qs])
    assert np.allclose(ups.apply([0, 0, 1]), [0, 0, 1], atol=1e-9)
    heading = np.degrees(ups.as_euler("zyx")[:, 0])
    assert np.histogram(heading, bins=4, range=(-180, 180))[0].min() > 60  # every quadrant drawn
    trimesh.creation.box(SIDE).export(tmp_path / "box.stl")
    cfg = prepared({"assets": [{"name": "up", "mesh": "box.stl", "upright": True, "collision": "box"},
                                       {"name": "free", "mesh": "box.stl", "collision": "box"}]}, tmp_path)
    info = {a.name: AssetInfo(a.name, (0.04, 0.04, 0.04)) for a in cfg.assets}
    objs = [o for i in range(5) for o in sample_scene(cfg, i, info).objects]
    z = {o.asset: Rotation.from_quat(o.quaternion).apply([0, 0, 1])[2] for o in objs}
    assert z["up"] == pytest.approx(1.0) and z["free"] < 0.999


def test_upright_assets_stay_upright_through_the_drop(tmp_path):
    """A top-heavy shape (a drill: column plus an arm at the top) tips over from its base;
    marked upright, it lands and stays standing, as LM-O's driller and glue stand on the desk."""
    from scipy.spatial.transform import Rotation

    from synthscene.renderers.pybullet import resolve_renderer
    from synthscene.scenes.sampler import sample_scene
    from synthscene.scenes.world import World

    column = trimesh.creation.box((0.03, 0.03, 0.2))
    arm = trimesh.creation.box((0.1, 0.03, 0.03), trimesh.transformations.translation_matrix((0.065, 0, 0.085)))
    trimesh.util.concatenate([column, arm]).export(tmp_path / "drill.stl")
    entry = {"mesh": "drill.stl", "collision": "convex", "count": [1, 1]}
    cfg = prepared({
        "assets": [{"name": "standing", "upright": True, **entry},
                   {"name": "turned", "pose": {"axes": ["z"]}, **entry}],  # same start, no upright physics
        "camera": {"width": 64, "height": 48},
        "randomizers": {"pose": {"mode": "drop", "volume": {"x": [-0.3, 0.3], "y": [-0.3, 0.3], "z": [0.0, 0.02]}}},
    }, tmp_path)
    world = World(cfg, resolve_renderer("tiny", announce=False))
    try:
        up = {"standing": [], "turned": []}
        for i in range(12):
            s = sample_scene(cfg, i, world.asset_info)
            world.pose(s)
            for o in s.objects:
                up[o.asset].append(Rotation.from_quat(o.quaternion).apply([0, 0, 1])[2])
    finally:
        world.close()
    assert min(up["standing"]) > 0.99
    assert max(up["turned"]) < 0.9  # the control: the same drops, without upright physics, tip it over

"""Exact labels: visibility on hand-built scenes, silhouettes against renders of the object alone,
and every label format read back by its own consumer (Ultralytics, pycocotools)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from ultralytics.data.utils import polygon2mask

import synthscene
from synthscene.config import config_from_dict
from synthscene.labels.annotate import Labeler
from synthscene.geometry.silhouettes import SilhouetteMesh, pose_matrix, rasterise, welded
from synthscene.labels.writers.yolo_seg import polygon
from synthscene.randomizers.lighting import LightingDraw
from synthscene.geometry.camera import look_at
from synthscene.renderers.pybullet import resolve_renderer
from synthscene.scenes.sample import CameraSample, ObjectSample, SceneSample
from synthscene.scenes.world import World

from conftest import small_config

W, H = 160, 120
from synthscene.core.formats import FORMATS
from synthscene.labels.writers import WRITERS

ALL_FORMATS = list(WRITERS)  # every registered writer: a new one is covered by the tests below


@pytest.fixture(scope="module")
def scene():
    """A world holding a mug (target) and a 10 cm cube (the occluder), no ground."""
    cfg = config_from_dict({
        "assets": [
            {"name": "mug", "urdf": "pybullet:objects/mug.urdf"},
            {"name": "box", "urdf": "pybullet:cube.urdf", "scale": 0.1},
        ],
        "scene": {"ground": None},
        "camera": {"width": W, "height": H, "fov_deg": 50},
        "labels": {"min_box_px": 2},
    })
    world = World(cfg, resolve_renderer("auto", announce=False))
    yield cfg, world, Labeler(cfg, world)
    world.close()


def _sample(cfg, objects, eye=(0.0, -0.4, 0.05), target=(0.0, 0.0, 0.05)) -> SceneSample:
    pos, quat = look_at(eye, target)
    cam = CameraSample(cfg.camera.K.tolist(), W, H, cfg.camera.near, cfg.camera.far, pos, quat)
    objs = [ObjectSample(name, 0, "target", cfg.class_names.index(name), name, list(p), list(q)) for name, p, q in objects]
    light = LightingDraw(0.0, 0.0, [0.3, 0.3, 1.0], [1, 1, 1], 1.0, 2.0, 0.6, 0.4, 0.0, False)
    return SceneSample(0, 0, "train", cam, objs, {"lighting": light})


def _label(scene, objects, **cam):
    cfg, world, labeler = scene
    s = _sample(cfg, objects, **cam)
    world.pose(s)
    render = world.render(s)
    return labeler(s, render), render


MUG = ("mug", (0.0, 0.0, 0.0), (0, 0, 0, 1))


def test_alone_is_fully_visible(scene):
    frame, _ = _label(scene, [MUG])
    mug = frame.objects[0]
    assert mug.visibility >= 0.995 and mug.kept and not mug.truncated
    assert mug.bbox_amodal_xyxy == mug.bbox_xyxy


def test_fully_hidden_behind_a_box(scene):
    frame, _ = _label(scene, [MUG, ("box", (0.0, -0.2, 0.05), (0, 0, 0, 1))])
    mug = frame.objects[0]
    assert mug.bbox_xyxy is None and mug.visibility == 0.0
    assert not mug.kept and mug.dropped == "not_visible"
    assert mug.bbox_amodal_xyxy is not None and mug.pixels_unoccluded > 300  # still measured


def test_half_hidden_behind_a_box(scene):
    alone, _ = _label(scene, [MUG])
    frame, render = _label(scene, [MUG, ("box", (0.05, -0.2, 0.05), (0, 0, 0, 1))])
    mug, ref = frame.objects[0], alone.objects[0]
    expected = mug.pixels_visible / ref.pixels_visible  # visible now ÷ visible when alone
    assert 0.2 < mug.visibility < 0.8
    assert abs(mug.visibility - expected) < 0.01
    assert mug.bbox_amodal_xyxy == ref.bbox_xyxy  # the full extent, as if unoccluded
    assert mug.kept


def test_min_visibility_filter_keeps_the_object_in_the_manifest(scene):
    cfg, world, _ = scene
    strict = cfg.model_copy(update={"labels": cfg.labels.model_copy(update={"min_visibility": 0.9})})
    frame, _ = _label((strict, world, Labeler(strict, world)), [MUG, ("box", (0.05, -0.2, 0.05), (0, 0, 0, 1))])
    assert frame.objects[0].kept is False and frame.objects[0].dropped == "min_visibility"


@pytest.mark.parametrize(
    "eye, target, truncated",
    [
        ((0.0, -0.4, 0.05), (0.0, 0.0, 0.05), False),
        ((0.25, -0.3, 0.3), (0.1, 0.05, 0.0), False),  # from above, off-centre
        ((0.0, -0.3, 0.05), (0.19, 0.0, 0.05), True),  # cut by the image border
        ((0.0, -0.045, 0.03), (0.0, 1.0, 0.03), True),  # camera inside the mug's handle span: behind the camera
    ],
)
def test_silhouette_matches_a_render_of_the_object_alone(scene, eye, target, truncated):
    cfg, world, labeler = scene
    frame, render = _label(scene, [MUG], eye=eye, target=target)
    cam, obj = frame.sample.camera, frame.targets[0]
    sil = rasterise(labeler.meshes["mug"], pose_matrix(obj.position, obj.quaternion),
                    pose_matrix(cam.position, cam.quaternion), cam.K, W, H, cam.near)
    full = np.zeros((H, W), bool)
    full[sil.y0:sil.y0 + sil.mask.shape[0], sil.x0:sil.x0 + sil.mask.shape[1]] = sil.mask > 0
    seen = render.segmentation == frame.body_ids[0]
    assert seen.sum() > 50
    iou = (full & seen).sum() / (full | seen).sum()
    assert iou >= 0.99, iou
    assert sil.truncated == truncated and frame.objects[0].truncated == truncated
    if truncated:
        assert 0 < frame.objects[0].truncation <= 1


def test_welded_silhouettes_are_the_unwelded_ones_pixel_for_pixel():
    """A textured mesh repeats each vertex per face (as the converted LM-O meshes do): welding keeps
    one copy of each and the same masks, pixel counts and truncations, cut or not by the border
    and the near plane, to the last bit."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.05)
    soup = np.asarray(sphere.vertices)[sphere.faces].reshape(-1, 3)  # three vertices per face
    soup = np.vstack([soup, [[-0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])  # -0.0 and 0.0 stay apart (bits)
    faces = np.arange(len(soup) - 2).reshape(-1, 3)
    faces = np.vstack([faces, [[len(soup) - 2, 0, 1], [len(soup) - 1, 0, 1]]])
    v, f = welded(soup, faces)
    assert len(v) == len(sphere.vertices) + 2 and f.dtype == np.int32
    assert np.array_equal(v[f], soup[faces])  # the same triangles, corner for corner
    before, after = SilhouetteMesh(soup, faces.astype(np.int32), np.eye(4)), SilhouetteMesh(v, f, np.eye(4))
    rng = np.random.default_rng(0)
    K = [[120.0, 0, 80.0], [0, 120.0, 60.0], [0, 0, 1]]
    cut = truncated = 0
    for _ in range(200):
        eye = rng.uniform(-0.4, 0.4, 3) * rng.choice([0.12, 1.0])  # some inside or at the sphere: near-plane cuts
        pos, quat = look_at(tuple(eye), tuple(rng.uniform(-0.06, 0.06, 3)))
        body = pose_matrix(rng.uniform(-0.02, 0.02, 3), rng.normal(size=4) / 2)
        a, b = (rasterise(m, body, pose_matrix(pos, quat), K, W, H, 0.01) for m in (before, after))
        assert np.array_equal(a.mask, b.mask) and (a.x0, a.y0, a.pixels) == (b.x0, b.y0, b.pixels)
        assert (a.truncated, a.truncation) == (b.truncated, b.truncation)
        cut += np.linalg.norm(eye) < 0.06
        truncated += a.truncated
    assert cut > 5 and truncated > 20


def test_polygon_covers_holes_and_parts():
    mask = np.zeros((80, 100), np.uint8)
    cv2.circle(mask, (30, 40), 25, 1, -1)
    cv2.circle(mask, (30, 40), 10, 0, -1)  # a hole
    cv2.rectangle(mask, (65, 10), (90, 70), 1, -1)  # a second part
    pts = polygon(mask) / (100, 80)
    back = polygon2mask((80, 100), [(pts * (100, 80)).reshape(-1)])
    iou = (back & mask).sum() / (back | mask).sum()
    assert iou >= 0.9 and back[40, 30] == 0  # the hole stays open


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    base = tmp_path_factory.mktemp("labels")
    cfg = config_from_dict(small_config(count=6, output={"val_fraction": 0.3, "formats": ALL_FORMATS}))
    return synthscene.generate(cfg, base / "out", progress=False).out_dir


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_yolo_segment_polygons_rasterise_back_to_the_instance_masks(dataset):
    checked = 0
    for r in _records(dataset):
        masks = cv2.imread(str(dataset / "masks" / r["split"] / f"{r['index']:06d}.png"), cv2.IMREAD_UNCHANGED)
        lines = (dataset / "segment" / "labels" / r["split"] / f"{r['index']:06d}.txt").read_text().splitlines()
        kept = [k for k, o in enumerate(r["objects"]) if o["kept"]]
        assert len(lines) == len(kept)
        for line, k in zip(lines, kept):
            cls, *xy = line.split()
            assert int(cls) == r["objects"][k]["class_id"]
            pts = np.asarray(xy, float).reshape(-1, 2) * (W, H)
            back = polygon2mask((H, W), [pts.reshape(-1)]).astype(bool)
            truth = masks == k + 1
            if truth.sum() >= 100:
                assert (back & truth).sum() / (back | truth).sum() >= 0.9
                checked += 1
    assert checked >= 5
    assert (dataset / "segment" / "data.yaml").is_file()
    for r in _records(dataset):  # Ultralytics reaches the images through segment/images/, labels beside them
        assert (dataset / "segment" / r["file"]).resolve() == (dataset / r["file"]).resolve()


def test_coco_loads_in_pycocotools_and_matches_the_yolo_boxes(dataset):
    n = 0
    for split in ("train", "val"):
        coco = COCO(str(dataset / "annotations" / f"instances_{split}.json"))
        for img in coco.dataset["images"]:
            assert (dataset / "images" / split / img["file_name"]).is_file()
            rows = [line.split() for line in (dataset / "labels" / split / img["file_name"].replace(".jpg", ".txt")).read_text().splitlines()]
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
            assert len(anns) == len(rows)
            for a, (c, cx, cy, w, h) in zip(anns, rows):
                assert a["category_id"] == int(c) + 1 and a["iscrowd"] == 0 and 0 < a["visibility"] <= 1
                x, y, bw, bh = a["bbox"]
                assert np.allclose([x + bw / 2, y + bh / 2, bw, bh], [float(cx) * W, float(cy) * H, float(w) * W, float(h) * H], atol=1e-3)
                m = coco.annToMask(a)
                assert m.sum() == a["area"]
                ys, xs = np.nonzero(m)
                assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == [x, y, x + bw, y + bh]
                n += 1
    assert n >= 5


def test_bop_poses_and_depth(dataset):
    gt = json.loads((dataset / "bop" / "scene_gt.json").read_text())
    cams = json.loads((dataset / "bop" / "scene_camera.json").read_text())
    info = json.loads((dataset / "bop" / "scene_gt_info.json").read_text())
    for r in _records(dataset):
        key = str(r["index"])
        assert np.allclose(np.reshape(cams[key]["cam_K"], (3, 3)), r["camera"]["K"])
        depth = cv2.imread(str(dataset / "depth" / r["split"] / f"{r['index']:06d}.png"), cv2.IMREAD_UNCHANGED)
        masks = cv2.imread(str(dataset / "masks" / r["split"] / f"{r['index']:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert depth.dtype == np.uint16 and masks.dtype == np.uint16
        assert len(gt[key]) == len(info[key]) == len(r["objects"])
        for k, (g, o) in enumerate(zip(gt[key], r["objects"])):
            R = np.reshape(g["cam_R_m2c"], (3, 3))
            assert np.allclose(R @ R.T, np.eye(3), atol=1e-6)
            assert info[key][k]["visib_fract"] == o["visibility"]
            if o["pixels_visible"] > 20:  # the object's depth is near its model origin's depth (objects < 25 cm)
                z = np.median(depth[masks == k + 1])
                assert abs(z - g["cam_t_m2c"][2]) < 250


def test_dataset_files_are_identical_after_only_and_resume(dataset, tmp_path):
    cfg = config_from_dict(small_config(count=6, output={"val_fraction": 0.3, "formats": ALL_FORMATS}))
    synthscene.generate(cfg, tmp_path / "b", only=[4, 1], progress=False)
    synthscene.generate(cfg, tmp_path / "b", resume=True, progress=False)
    for name in ("annotations/instances_train.json", "annotations/instances_val.json", "bop/scene_gt.json",
                 "bop/scene_camera.json", "bop/scene_gt_info.json", "manifest.jsonl"):
        assert (tmp_path / "b" / name).read_bytes() == (dataset / name).read_bytes(), name


def test_the_registry_is_the_formats_configs_may_name():
    assert sorted(WRITERS) == sorted(FORMATS)
    with pytest.raises(ValueError, match="FORMATS"):
        from synthscene.labels.writers import Writer, register

        register(type("Pascal", (Writer,), {"name": "pascal"}))


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_each_writer_writes_what_it_owns_the_same_after_only_and_resume(dataset, tmp_path, name):
    """Every registered writer: its folders exist in a dataset and hold the same bytes when the
    dataset is made with --only then --resume (workers and executors: tests/test_generate.py)."""
    owns = WRITERS[name].owns
    assert owns, f"writer {name} declares no folder it owns (what --overwrite clears)"
    cfg = config_from_dict(small_config(count=6, output={"val_fraction": 0.3, "formats": ["yolo", name]}))
    synthscene.generate(cfg, tmp_path / "b", only=[4, 1], progress=False)
    synthscene.generate(cfg, tmp_path / "b", resume=True, progress=False)
    for folder in owns:
        files = sorted(q.relative_to(dataset) for q in (dataset / folder).rglob("*") if q.is_file() and not q.is_symlink())
        assert files, f"{name}: nothing under {folder}/"
        for f in files:
            if f.name != "data.yaml":  # it names its folder's absolute path
                assert (tmp_path / "b" / f).read_bytes() == (dataset / f).read_bytes(), f


def test_unknown_format_is_bad_input():
    with pytest.raises(synthscene.BadInput, match="unknown formats"):
        config_from_dict(small_config(output={"formats": ["yolo", "pascal"]}))

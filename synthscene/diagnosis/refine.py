"""`synthscene refine`: a supplement config, shifted toward the slices a diagnosis found failing.

The input config's own YAML is copied and only the keys a rule names are changed (rules in
docs/TARGETED.md, "refine"); each change is listed with its slice and figures under
`provenance:` (not part of the config hash), marked by round (refining a refined config keeps the
earlier rounds' entries), and commented beside the key. The seed changes so the
supplement draws new images. The result is an ordinary config: it is loaded with load_config
before it replaces anything.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import DatasetConfig, load_config, validation_error
from ..core.schema import PYBULLET_PREFIX, SYNTHSCENE_PREFIX, json_hash
from ..core.yamlfile import read_yaml
from ..core.errors import BadInput, SynthsceneError
from ..core.schema import MAX_ASSET_COUNT
from ..randomizers.layout import LMO_MEDIAN_EXTENT, DenseConfig
from . import guard

SIZE_DIMS = ("coco_size", "area_quartile")
MIN_ELEVATION = 5.0  # degrees: a camera below the ground plane sees nothing
NOT_MAPPED = {"aspect": "box shape follows viewpoint and resting pose (randomizers.pose.per_asset)",
              "contrast": "no contrast rule: `synthscene inspect --gold` names a post step sized to the gap (docs/TARGETED.md)",
              "azimuth": "the object's heading is already uniform under pose randomization"}
INTENSITY_FLOOR, INTENSITY_CEIL = 0.25, 3.0  # lighting.intensity: a gain on the rendered scene's pixels
MAX_BLUR_KERNEL = 7  # px: the largest GaussianBlur kernel one round adds


# ---- report.json (only the parts refine reads are checked) --------------------------------------

class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Bin(_Open):
    label: str
    n_gold: int
    n_synthetic: int = 0
    recall: float | None
    gold_share: float
    synthetic_share: float | None
    verdict: Literal["under-covered", "covered-failing", "ok", "too-few"]


class _Slice(_Open):
    edges: list[float | None] | None
    bins: list[_Bin]


class _Report(_Open):
    slices: dict[str, _Slice]
    recall: float | None = None
    thresholds: dict[str, float] = {}


def read_report(diagnosis_dir: str | os.PathLike) -> dict:
    """DIR/report.json as written by `synthscene diagnose`; BadInput names the file and field."""
    path = Path(diagnosis_dir) / "report.json"
    if not path.is_file():
        raise BadInput("no report.json here: run `synthscene diagnose ... --out DIR` first", path)
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"not valid JSON ({err})", path) from None
    if not isinstance(data, dict):
        raise BadInput("expected a JSON object (report.json of `synthscene diagnose`)", path)
    try:
        _Report.model_validate(data)
    except ValidationError as err:
        raise validation_error(err, path) from None
    return data


# ---- findings: acting slices, with their numeric bounds -----------------------------------------

def findings(report: dict, dim: str, held_back: list | None = None) -> list[dict]:
    """Bins of `dim` to act on: verdict under-covered / covered-failing, with enough gold instances, and
    a recall clearly below the overall recall (guard.clearly_failing); the others go to `held_back`."""
    edges = (report["slices"].get(dim) or {}).get("edges")
    out = []
    for _, i, b, act, why in guard.flagged(report, (dim,)):
        if not act:
            if held_back is not None:
                held_back.append((f"{dim} {b['label']}", b["verdict"], why))
            continue
        lo, hi = (edges[i], edges[i + 1]) if edges else (None, None)
        out.append({**b, "dim": dim, "lo": lo, "hi": hi, "slice": f"{dim} {b['label']}"})
    return out


def _figures(b: dict) -> dict:
    return {k: b.get(k) for k in ("n_gold", "recall", "synthetic_share", "gold_share")}


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _finding_text(b: dict, overall) -> str:
    rec = "n/a" if b["recall"] is None else f"{b['recall']:.2f}"
    tot = "" if overall is None else f" (overall {overall:.2f})"
    return (f"{b['slice']} is {b['verdict']}: {b['n_gold']} gold instances, {_pct(b['gold_share'])} of gold vs "
            f"{_pct(b['synthetic_share'])} of synthetic, recall {rec}{tot}")


def _centre(lo, hi, floor=None, ceil=None) -> float:
    """A bin's representative value; an open end is closed at the domain's bound, else at ½× / 2× the other edge."""
    lo = (floor if floor is not None else hi / 2) if lo is None else lo
    hi = (ceil if ceil is not None else 2 * lo) if hi is None else hi
    return (lo + hi) / 2


def _synthetic_centre(report: dict, dim: str, floor=None, ceil=None) -> float | None:
    """The representative value of the bin that holds the synthetic set's median (None: not recorded)."""
    s = report["slices"][dim]
    counts = [b.get("n_synthetic", 0) for b in s["bins"]]
    if not sum(counts) or not s.get("edges"):
        return None
    k = int(np.searchsorted(np.cumsum(counts), sum(counts) / 2))
    return _centre(s["edges"][k], s["edges"][k + 1], floor, ceil)


# ---- the rules ----------------------------------------------------------------------------------

class _Plan:
    """The changes to make, each with its reason; notes for findings no rule acts on."""

    def __init__(self, cfg: DatasetConfig, report: dict, round_: int = 1):
        self.cfg, self.report, self.overall, self.round = cfg, report, report.get("recall"), round_
        self.changes: list[dict] = []
        self.values: dict[str, Any] = {}
        self.notes: list[str] = []
        self._synthetic = None

    def synthetic_median(self, stat: str) -> float | None:
        """The diagnosed dataset's median of an image statistic, per image, as `inspect` measures it."""
        if self._synthetic is None:
            self._synthetic = guard.synthetic_summary(self.report) or {}
        return (self._synthetic.get(stat) or {}).get("median")

    def change(self, key: str, old, new, finding: dict | None, why: str) -> None:
        if finding and key not in self.values and json.dumps(old, default=list) == json.dumps(new, default=list):
            # the config aims there already: not a change, and not a slice this round's images aim at
            self.notes.append(f"{finding['slice']}: {key} is {json.dumps(new, default=list)} already; nothing to change")
            return
        self.values[key] = new
        self.changes.append({"round": self.round, "key": key, "from": copy.deepcopy(old), "to": copy.deepcopy(new),
                             "slice": finding and finding["slice"], "dimension": finding and finding["dim"],
                             "bin": finding and finding["label"], "figures": finding and _figures(finding),
                             "why": (f"{finding.get('text') or _finding_text(finding, self.overall)}; " if finding else "")
                             + why})


def _r(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def _rng(lo: float, hi: float) -> list[float]:
    return [_r(lo), _r(hi)]


def _class_rule(plan: _Plan) -> None:
    cfg = plan.cfg
    groups = {name: (g, j) for g, grp in enumerate(cfg.scene.one_of) for j, name in enumerate(grp.assets)}
    for b in findings(plan.report, "class"):
        assets = [(i, a) for i, a in enumerate(cfg.assets) if a.cls == b["label"]]
        if not assets:
            plan.notes.append(f"{b['slice']}: no asset of this class in the config; not acted on")
            continue
        s, g = b["synthetic_share"], b["gold_share"]
        top = guard.MAX_FACTOR
        factor = 1.5 if b["verdict"] == "covered-failing" else (top if not s else min(top, max(1.5, g / s)))
        for i, a in assets:
            if a.name in groups:
                gi, j = groups[a.name]
                key = f"scene.one_of[{gi}].weights"
                old = plan.values.get(key) or list(cfg.scene.one_of[gi].weights or [1.0] * len(cfg.scene.one_of[gi].assets))
                new = list(old)
                new[j] = _r(new[j] * factor)
                plan.change(key, old, new, b, f"weight of {a.name} in its one_of group ×{factor:.2g}")
            else:
                lo, hi = a.count
                new = [max(lo, 1), min(MAX_ASSET_COUNT, max(hi + 1, math.ceil(hi * factor)))]
                plan.change(f"assets[{i}].count", list(a.count), new, b,
                            f"more {a.name} per image: maximum ×{factor:.2g} (at least +1), at least one")


def _extents(cfg: DatasetConfig) -> list[np.ndarray] | None:
    """Each asset's bounding-box extents in metres (scaled), or None when PyBullet cannot tell."""
    from ..assets.prepare import urdf_extents

    try:
        return [np.asarray(urdf_extents(Path(a.urdf)), float) * a.scale for a in cfg.assets]
    except Exception:  # noqa: BLE001 - any failure: fall back to scaling the current range
        return None


def _sides(b: dict) -> tuple[float, float]:
    """A box-area bin as box sides (px); an open end at ½× / 2× the other."""
    lo = math.sqrt(b["lo"]) if b["lo"] else None
    hi = math.sqrt(b["hi"]) if b["hi"] is not None else None
    return (hi / 2 if lo is None else lo), (2 * lo if hi is None else hi)


def _size_rule(plan: _Plan) -> None:
    """Box side ≈ f·size/distance, size = an asset's mean extent (median over the assets)."""
    cfg, cam = plan.cfg, plan.cfg.randomizers.camera
    acting = [b for d in SIZE_DIMS for b in findings(plan.report, d)]
    if not acting:
        return
    K = cfg.camera.K
    f = (K[0, 0] + K[1, 1]) / 2
    ext = _extents(cfg)
    hulls = []  # per slicing, the span of box sides (px) its acting bins cover
    for d in SIZE_DIMS:
        spans = [_sides(b) for b in acting if b["dim"] == d]
        if spans:
            hulls.append((min(s[0] for s in spans), max(s[1] for s in spans)))
    # Both slicings measure box area: where their failing spans overlap, aim at the overlap.
    lo_s, hi_s = max(h[0] for h in hulls), min(h[1] for h in hulls)
    if lo_s >= hi_s:
        lo_s, hi_s = min(h[0] for h in hulls), max(h[1] for h in hulls)
    sides = [(lo_s, hi_s)]
    if cam.mode == "box_size":
        # box_px is the span of the targets' bounding sphere: 2r = |extents|; the box side ≈ mean extent
        ratio = float(np.median([np.linalg.norm(e) / e.mean() for e in ext])) if ext else math.sqrt(3)
        new = _rng(*guard.bound_range(cam.box_px, [min(s[0] for s in sides) * ratio, max(s[1] for s in sides) * ratio], 1.0))
        for b in acting:
            plan.change("randomizers.camera.box_px", list(cam.box_px), new, b,
                        f"apparent size for box sides {lo_s:.3g}–{hi_s:.3g} px (sphere span = side × {ratio:.2g})")
        return
    if ext:
        size = float(np.median([e.mean() for e in ext]))
        lo_d, hi_d = f * size / max(s[1] for s in sides), f * size / min(s[0] for s in sides)
        how = f"distance = f·size/side with f {f:.4g} px, size {size:.3g} m (median mean extent of the assets)"
    else:
        m = _synthetic_centre(plan.report, "area_quartile", 0.0)
        if m is None:
            plan.notes.append("box size: no asset extents and no synthetic box sizes; camera distance not changed")
            return
        m = math.sqrt(m)
        lo_d, hi_d = cam.distance[0] * m / max(s[1] for s in sides), cam.distance[1] * m / min(s[0] for s in sides)
        how = f"the current range scaled by synthetic median side {m:.3g} px / missed side"
    lo_d, hi_d = max(lo_d, cfg.camera.near * 10), min(hi_d, cfg.camera.far * 0.8)
    new = _rng(*guard.bound_range(cam.distance, [lo_d, max(lo_d, hi_d)], cfg.camera.near * 10, cfg.camera.far * 0.8))
    for b in acting:
        plan.change("randomizers.camera.distance", list(cam.distance), new, b,
                    f"camera distance for box sides {lo_s:.3g}–{hi_s:.3g} px: {how}")


def _visibility_rule(plan: _Plan) -> None:
    occ = plan.cfg.randomizers.occlusion
    acting = []
    for b in findings(plan.report, "visibility"):
        if b["lo"] is not None and b["lo"] >= 0.9:
            plan.notes.append(f"{b['slice']}: unoccluded objects missed; no occlusion rule applies")
        else:
            acting.append(b)
    if not acting:
        return
    new = _rng(*guard.bound_range(occ.visibility, [max(0.05, min(b["lo"] or 0.0 for b in acting)),
                                                   min(1.0, max(b["hi"] or 1.0 for b in acting))], 0.05, 1.0))
    first = acting[0]
    if not occ.enabled:
        plan.change("randomizers.occlusion.enabled", False, True, first, "occluders are needed to reach these visible fractions")
    if occ.occluders[0] < 1:
        plan.change("randomizers.occlusion.occluders", list(occ.occluders), [1, max(1, occ.occluders[1])], first,
                    "at least one occluder per image")
    for b in acting:
        plan.change("randomizers.occlusion.visibility", list(occ.visibility), new, b,
                    "occluders aim at the missed visible fractions")


def _brightness_rule(plan: _Plan) -> None:
    light = plan.cfg.randomizers.lighting
    acting = findings(plan.report, "brightness")
    if not acting:
        return
    syn = plan.synthetic_median("brightness")
    if not syn:
        plan.notes.append("brightness: no measured synthetic median brightness (report.json image_stats, or the "
                          "dataset folder); lighting not changed")
        return
    lo, hi, used = math.inf, -math.inf, []
    for b in acting:
        k = _centre(b["lo"], b["hi"], 0.0, 255.0) / syn
        if abs(k - 1) < 0.05:
            plan.notes.append(f"{b['slice']}: the synthetic median brightness already lies in it; lighting not changed")
            continue
        lo, hi = min(lo, light.intensity[0] * k), max(hi, light.intensity[1] * k)
        used.append((b, k))
    if used:
        new = _rng(*guard.bound_range(light.intensity, [lo, hi], INTENSITY_FLOOR, INTENSITY_CEIL))
        for b, k in used:
            plan.change("randomizers.lighting.intensity", list(light.intensity), new, b,
                        f"intensity ×{k:.2g} = the bin's brightness / the synthetic median's ({syn:.3g} grey levels, "
                        f"per image, as `inspect` measures it), bounded to ×{guard.MAX_FACTOR:g} / ÷{guard.MAX_FACTOR:g} "
                        f"per round and {INTENSITY_FLOOR:g}–{INTENSITY_CEIL:g}")


def _blur_rule(plan: _Plan) -> None:
    post = plan.cfg.randomizers.post
    acting = findings(plan.report, "blur")
    if not acting:
        return
    syn = plan.synthetic_median("blur")
    if not syn:
        plan.notes.append("blur: no measured synthetic median blur (report.json image_stats, or the dataset folder); "
                          "post-processing not changed")
        return
    used = []
    for b in acting:
        c = _centre(b["lo"], b["hi"], 0.0)
        if c >= syn:
            plan.notes.append(f"{b['slice']}: photos sharper than the synthetic median; reduce blur in randomizers.post by hand")
        else:
            used.append((b, syn / max(c, 1e-6)))
    if not used:
        return
    import albumentations as A

    from ..randomizers.post import build

    k = min(MAX_BLUR_KERNEL, 2 * round(math.sqrt(max(r for _, r in used))) + 1)
    k = max(k, 3)
    blur = A.GaussianBlur(blur_limit=(3, k), p=0.5)
    parts = ([build(post.transform)] if post.transform is not None else []) + [blur]
    new = A.to_dict(A.Compose(parts))
    if not post.enabled:
        plan.change("randomizers.post.enabled", False, True, used[0][0], "post-processing is needed for the blur")
    for b, r in used:
        plan.change("randomizers.post.transform", post.transform, new, b,
                    f"photos {r:.2g}× blurrier than the synthetic median (variance of the Laplacian): "
                    f"GaussianBlur blur_limit [3, {k}], p 0.5, after the existing pipeline")


def _elevation_rule(plan: _Plan) -> None:
    cam = plan.cfg.randomizers.camera
    floor = MIN_ELEVATION if plan.cfg.scene.ground is not None else -89.0
    acting = []
    for b in findings(plan.report, "elevation"):
        if (b["hi"] if b["hi"] is not None else 90.0) <= floor:
            plan.notes.append(f"{b['slice']}: seen from below the object's plane; a camera below the ground cannot; "
                              "free rotations (randomizers.pose) would show it")
        else:
            acting.append(b)
    if not acting:
        return
    new = _rng(*guard.bound_shift(cam.elevation_deg, [max(floor, min(b["lo"] if b["lo"] is not None else -90.0 for b in acting)),
                                                      min(89.0, max(b["hi"] if b["hi"] is not None else 90.0 for b in acting))]))
    for b in acting:
        plan.change("randomizers.camera.elevation_deg", list(cam.elevation_deg), new, b,
                    "camera elevation toward the missed viewpoints (elevation in the object's frame; "
                    "the same as the camera's for objects resting upright)")


def _border_rule(plan: _Plan) -> None:
    cfg, cam = plan.cfg, plan.cfg.randomizers.camera
    acting = []
    for b in findings(plan.report, "border"):
        if b["hi"] is None or b["hi"] > 0.15:
            plan.notes.append(f"{b['slice']}: objects away from the image border; look_at_jitter not changed")
        else:
            acting.append(b)
    if not acting:
        return
    K = cfg.camera.K
    f = (K[0, 0] + K[1, 1]) / 2
    dist = plan.values.get("randomizers.camera.distance", cam.distance)
    if cam.mode == "box_size":
        ext = _extents(cfg)
        radius = float(np.median([np.linalg.norm(e) / 2 for e in ext])) if ext else 0.1
        dist = [2 * radius * f / cam.box_px[1], 2 * radius * f / cam.box_px[0]]
    half_view = (sum(dist) / 2) * min(cfg.camera.width, cfg.camera.height) / (2 * f)  # metres
    gap = min(b["hi"] for b in acting)
    new = _r(guard.bound(cam.look_at_jitter, max(cam.look_at_jitter * 1.5, half_view * (1 - 2 * gap))))
    if cfg.labels.max_truncation < 1:
        plan.notes.append(f"labels.max_truncation is {cfg.labels.max_truncation}: truncated objects beyond it are not labelled")
    for b in acting:
        plan.change("randomizers.camera.look_at_jitter", cam.look_at_jitter, new, b,
                    f"boxes near the border: jitter ≈ half the view ({half_view:.3g} m at the median distance) "
                    f"× (1 − 2·{gap:g}), so targets reach the image sides")


# Composition statistics the layout moves (diagnosis/composition.py), and which way the synthetic
# value lies when the renders are spread out more than the photos.
PACKING = {"nn_distance": 1, "center_spread": 1, "overlap": -1, "visibility": 1}
PACK, SPREAD = 0.75, 1.33  # one round's factor on the region (dense) or volume (drop): ×¾ packs, ×4/3 spreads


def _composition_rule(plan: _Plan) -> None:
    """Act on the layout when the composition table (report.json "composition", as `inspect --gold`)
    has clearly large gaps in at least two packing statistics pointing the same way: the renders'
    objects spread out more (or less) than the photos'. Drop → dense layout; dense → a smaller (larger)
    region, tighter (looser) spacing; drop spread too thin → a larger volume. One sized step a round."""
    comp = plan.report.get("composition") or {}
    votes = {1: [], -1: []}  # 1: renders more spread out than the photos
    for a in comp.get("advice") or []:
        sign = PACKING.get(a["statistic"])
        if sign and a["gap"]:
            votes[sign if a["gap"] > 0 else -sign].append(a)
    way = 1 if len(votes[1]) >= 2 else -1 if len(votes[-1]) >= 2 else 0
    if not way:
        for a in votes[1] + votes[-1]:
            plan.notes.append(f"composition {a['statistic']}: a large gap alone; the layout is changed when two "
                              "packing statistics agree")
        return
    pose, acting = plan.cfg.randomizers.pose, votes[way]
    text = "; ".join(a["why"].split(": ")[0] for a in acting)
    finding = {"slice": "composition " + ", ".join(a["statistic"] for a in acting), "dim": "composition",
               "label": ",".join(a["statistic"] for a in acting), "text": text}
    if pose.mode == "drop" and way == 1:
        ext = _extents(plan.cfg)
        k = float(np.median([e.max() for e in ext])) / LMO_MEDIAN_EXTENT if ext else 1.0
        d = DenseConfig().scaled(k)
        dense = {"centre": {"x": _rng(*d.centre.x), "y": _rng(*d.centre.y)}, "size": _rng(*d.size),
                 "aspect": list(d.aspect), "spacing": list(d.spacing), "ring": _rng(*d.ring),
                 "ring_share": list(d.ring_share)}
        plan.change("randomizers.pose.mode", "drop", "dense", finding,
                    "the objects packed into one region drawn per image, among each other (pose mode dense)")
        plan.change("randomizers.pose.dense", None, dense, finding,
                    f"lmo_dense.yaml's region, scaled by the assets' size (× {k:.2g})")
    elif pose.mode == "dense":
        d = pose.dense or DenseConfig()  # unset: the defaults mode dense draws from
        f = PACK if way == 1 else SPREAD
        new = d.model_dump(mode="json") if pose.dense else {}
        new["size"] = _rng(*guard.bound_range(d.size, [x * f for x in d.size], 0.05))
        new["spacing"] = _rng(*guard.bound_range(d.spacing, [min(1.5, x * (0.85 if way == 1 else 1.15)) for x in d.spacing],
                                                  0.2, 1.5))
        plan.change("randomizers.pose.dense", pose.dense.model_dump(mode="json") if pose.dense else None, new, finding,
                    f"{'a smaller region, neighbours closer' if way == 1 else 'a larger region, neighbours farther apart'}"
                    f" (region × {f:g})")
    elif pose.mode == "drop":  # the renders' objects closer together than the photos': more room
        v = pose.volume
        old = {"x": list(v.x), "y": list(v.y), "z": list(v.z)}
        new = {"x": _rng(v.x[0] * SPREAD, v.x[1] * SPREAD), "y": _rng(v.y[0] * SPREAD, v.y[1] * SPREAD), "z": list(v.z)}
        plan.change("randomizers.pose.volume", old, new, finding, f"the objects spread over more ground (× {SPREAD:g})")
    else:
        plan.notes.append(f"{finding['slice']}: pose mode {pose.mode} has no layout to pack or spread; not changed")


RULES = (_class_rule, _size_rule, _visibility_rule, _brightness_rule, _blur_rule, _elevation_rule, _border_rule,
         _composition_rule)


# ---- writing -------------------------------------------------------------------------------------

def _parts(key: str) -> list:
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", key)]


def _set(data: dict, key: str, value) -> None:
    parts = _parts(key)
    node = data
    for part, nxt in zip(parts[:-1], parts[1:]):
        if isinstance(part, int):
            node = node[part]
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
    node[parts[-1]] = value


def _relative(value: str) -> bool:
    if value.startswith((PYBULLET_PREFIX, SYNTHSCENE_PREFIX)):
        return False
    return not Path(os.path.expanduser(os.path.expandvars(value))).is_absolute()


def _rebase(raw, resolved):
    """`raw` with each relative path replaced by its absolute form (`resolved`: the validated values)."""
    if isinstance(raw, dict) and isinstance(resolved, dict):
        return {k: _rebase(v, resolved.get(k)) for k, v in raw.items()}
    if isinstance(raw, list) and isinstance(resolved, list) and len(raw) == len(resolved):
        return [_rebase(a, b) for a, b in zip(raw, resolved)]
    if isinstance(raw, str) and isinstance(resolved, str) and raw != resolved and _relative(raw) \
            and Path(resolved).is_absolute():
        return resolved
    return raw


def _annotate(text: str, comments: dict[str, str]) -> str:
    """Put `# comment` beside the line of each dotted key (PyYAML block style, unwrapped lines)."""
    path: list[tuple[int, str]] = []
    items: dict[tuple, int] = {}
    out = []
    for line in text.splitlines():
        body = line.lstrip(" ")
        ind = len(line) - len(body)
        if body.startswith("- "):
            while path and path[-1][0] > ind:
                path.pop()
            parent = tuple(p for _, p in path)
            items[parent] = items.get(parent, -1) + 1
            path.append((ind + 1, f"[{items[parent]}]"))
            body, ind = body[2:], ind + 2
        m = re.match(r"([A-Za-z_][\w.-]*):(\s|$)", body)
        if m:
            while path and path[-1][0] >= ind:
                path.pop()
            path.append((ind, m.group(1)))
            key = ".".join(p for _, p in path).replace(".[", "[")
            if key in comments:
                line += f"  # {comments[key]}"
        out.append(line)
    return "\n".join(out) + "\n"


def round_of(entry) -> int:
    """The refinement round of one provenance entry (unmarked: 1)."""
    r = entry.get("round", 1) if isinstance(entry, dict) else 1
    return r if isinstance(r, int) and not isinstance(r, bool) else 1


def _new_seed(seed: int, report_path: Path) -> int:
    digest = hashlib.sha256(f"{seed}:".encode() + report_path.read_bytes()).digest()
    new = int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
    return new if new != seed else new ^ 1


def _comparable(config: dict) -> str:
    """The hash of a config's dict without what may differ between a config and the dataset it made:
    `generate --count/--seed`, the output folder, provenance."""
    d = copy.deepcopy(config)
    for key in ("provenance", "seed", "count"):
        d.pop(key, None)
    if isinstance(d.get("output"), dict):
        d["output"].pop("dir", None)
    return json_hash(d)


def check_inputs(cfg: DatasetConfig, report: dict, force: bool = False) -> list[str]:
    """Refuse a config that did not make the diagnosed dataset (recorded in report.json, or the dataset's
    config.resolved.yaml): the rules would move another config's ranges by this one's failures. A refined
    config (one with `provenance:`) needs the same assets only: it is refined again from a diagnosis of
    the dataset it supplements. With `force`, a mismatch is a note. Returns notes."""
    from .run import dataset_config

    made = report.get("dataset_config")
    if made is None and report.get("dataset"):
        try:
            made = dataset_config(report["dataset"])
        except BadInput:
            made = None
    if not isinstance(made, dict) or not isinstance(made.get("config"), dict):
        return ["the diagnosis does not record the config of the dataset it diagnosed: not checked that this config made it"]
    mine, theirs = cfg.to_dict(), made["config"]
    names = [[a.get("name") for a in d.get("assets") or [] if isinstance(a, dict)] for d in (mine, theirs)]
    if _comparable(mine) == _comparable(theirs) or (cfg.provenance is not None and names[0] == names[1]):
        return []
    why = (f"its assets {names[0]} are not the dataset's {names[1]}" if names[0] != names[1] else
           f"its settings differ (hash {cfg.content_hash()}, the dataset's {made.get('config_hash')}, count and seed aside)")
    what = f"this config did not make the diagnosed dataset {report.get('dataset')}: {why}"
    if not force:
        raise BadInput(f"{what}; give the config the dataset was generated from, or --force", cfg.source, "CONFIG")
    return [f"--force: {what}"]


def refine(config_path: str | os.PathLike, diagnosis_dir: str | os.PathLike, out: str | os.PathLike,
           images: int | None = None, overwrite: bool = False, force: bool = False,
           check_images: int = guard.CHECK_IMAGES) -> dict:
    """Write `out`: `config_path` with its randomizers moved toward DIR/report.json's failing slices.

    Returns {"config": path, "changes": provenance entries, "notes": findings not acted on,
    "check": the render check's figures (or None)}. Bad input (config, report, --images, an existing
    `out` without `overwrite`) raises BadInput before anything is written; so does a refined config
    whose `check_images` renders fall outside the gold photos' range (guard.py), unless `force`.
    """
    from ..core.files import check_out_file, staged_write
    from ..assets.prepare import prepare

    config_path, out = Path(config_path), check_out_file(out, overwrite)
    report_path = Path(diagnosis_dir) / "report.json"
    report = read_report(diagnosis_dir)
    cfg = prepare(load_config(config_path))  # its assets' URDFs are measured (urdf_extents)
    if out.resolve() == config_path.resolve():
        raise BadInput("the refined config would replace the one it is refined from; give another --out", out)
    if images is not None and images < 1:
        raise BadInput(f"expected a positive number of images, got {images}", None, "--images")
    raw = read_yaml(config_path)
    # Refining a refined config: its entries stay as they were (unmarked, written before rounds were: round 1)
    earlier = [e if "round" in e else {"round": 1, **e} for e in raw.pop("provenance", None) or []]
    plan = _Plan(cfg, report, max((round_of(e) for e in earlier), default=0) + 1)
    plan.notes += check_inputs(cfg, report, force)
    for rule in RULES:
        rule(plan)
    held_back: list = []
    for dim in report["slices"]:
        findings(report, dim, held_back)
    plan.notes += [f"{name} ({verdict}): not acted on, {why}" for name, verdict, why in held_back]
    for dim, why in NOT_MAPPED.items():
        for b in findings(report, dim):
            plan.notes.append(f"{b['slice']} ({b['verdict']}): not acted on, {why}")
    old_seed = cfg.seed
    plan.change("seed", old_seed, _new_seed(old_seed, report_path), None, "a supplement draws new images")
    if images is not None:
        plan.change("count", cfg.count, int(images), None, "--images")
    if cfg.output.dir is not None:
        plan.change("output.dir", cfg.output.dir, f"{cfg.output.dir}-supplement", None,
                    "the supplement is written beside the original dataset, not over it")

    new_dir = out.resolve().parent
    data = raw
    if new_dir != config_path.resolve().parent:  # relative paths would resolve from the new folder
        validated = DatasetConfig.model_validate(raw, context={"base_dir": config_path.resolve().parent})
        data = _rebase(raw, validated.model_dump(mode="json", by_alias=True))
    for key, value in plan.values.items():
        _set(data, key, copy.deepcopy(value))  # no shared objects: YAML would write them as aliases
    data["provenance"] = earlier + plan.changes
    data = json.loads(json.dumps(data))  # plain lists and dicts, nothing shared (YAML would write aliases)

    import yaml

    comments = {}
    for c in plan.changes:
        comments[c["key"]] = f"refine: was {json.dumps(c['from'])[:60]}" + (f" ({c['slice']})" if c["slice"] else "")
    header = (f"# Supplement written by `synthscene refine` from {config_path.resolve()}\n"
              f"# and {report_path.resolve()}: every changed key and its reason is under `provenance:`\n"
              "# (not part of the config hash).\n")
    text = header + _annotate(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=float("inf"), allow_unicode=True), comments)
    check = None
    with staged_write(out, text) as tmp:
        try:
            made = prepare(load_config(tmp))  # an ordinary config, or nothing
        except BadInput as err:
            raise SynthsceneError(f"refine made a config that does not load ({err}); nothing written") from None
        check = _check_renders(made, cfg, report, check_images, force, plan.notes, out)
    return {"config": str(out), "changes": plan.changes, "notes": plan.notes, "check": check}


def _check_renders(cfg: DatasetConfig, before: DatasetConfig, report: dict, count: int, force: bool,
                   notes: list[str], out: Path) -> dict | None:
    """Guard 3 (guard.py): render `count` images of the refined config `cfg` and the same images (seed,
    indices) of the config it came from, `before`; refuse (BadInput) when the refined renders' median
    brightness or contrast leaves the gold photos' range farther than the unrefined ones do, unless
    `force` (then a note). Paired renders, not the diagnosed dataset's median: a median of a few
    images varies with the seed by more than most changes refine makes."""
    if not count:
        notes.append("render check skipped (--check-images 0)")
        return None
    gold = guard.gold_summary(report)
    if gold is None:
        notes.append("render check skipped: the diagnosis records no gold photo statistics and names no gold folder")
        return None
    renders = guard.render_stats(cfg, count)
    paired = guard.render_stats(before.model_copy(update={"seed": cfg.seed, "count": cfg.count}), count)
    problems, more = guard.check_renders(renders, gold, guard.summarise_renders(paired))
    notes += more
    figures = {k: {"renders_median": float(np.median(renders[k])) if len(renders[k]) else None,
                   "gold_min": (gold.get(k) or {}).get("min"), "gold_max": (gold.get(k) or {}).get("max")}
               for k in guard.CHECKED}
    if problems and not force:
        raise BadInput("the refined config's renders fall outside the gold photos' range, so refine wrote nothing: "
                       + "; ".join(problems) + ". Look at them (`synthscene preview`), edit the config by hand, or "
                       "give --force to write it anyway", out, "--out")
    notes += [f"--force: {p}" for p in problems]
    return {"images": count, "figures": figures, "problems": problems}

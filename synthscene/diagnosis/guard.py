"""What keeps `synthscene refine` from making data worse (docs/TARGETED.md, "Guards").

Three rules, each a pure function here so that refine.py only asks:

1. *Act only on a clear failure.* A slice is acted on when its recall is below the overall recall
   and the gap is statistically clear: the upper end of its 95 % Wilson score interval (n = its
   gold instances) lies below the overall recall. A slice whose recall is at or above the overall
   recall is never acted on, however few synthetic images fall in it (being under-covered is not a
   failure when the detector finds those objects anyway).
2. *Bounded steps.* Each range refine edits moves by at most MAX_FACTOR per round: every end of a
   positive range stays within [old / 2, old × 2] (and within the key's sane floor and ceiling),
   angles move by at most MAX_SHIFT_DEG, a multiplicative factor (class weights, counts) is at most
   MAX_FACTOR. A wrong finding then costs one round's step, not the dataset.
3. *Look before writing.* The refined config renders CHECK_IMAGES images in-process (its own
   renderer, as `preview` does, JPEG-encoded as `generate` writes them); their median brightness
   and contrast (diagnosis/stats.py, the one definition `inspect` and `diagnose` use) must lie
   within the gold photos' range [darkest, brightest] (and [flattest, most contrasted]) or, when
   the unrefined config's renders of the same images (same seed and indices) are already outside
   it, no farther outside than they are (TOLERANCE grey levels allowed). Otherwise refine refuses
   (exit 2) unless --force. The comparison is paired because a median of a few images moves with
   the seed by more than most changes refine makes (8 renders of one recipe: 63 vs 122 seen).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

MAX_FACTOR = 2.0  # per round: a range's ends move by at most ×2 / ÷2
MAX_SHIFT_DEG = 45.0  # per round: an angle range's ends move by at most this many degrees
Z95 = 1.959964  # the 95 % two-sided normal quantile
CHECK_IMAGES = 8  # images the refined config renders before it is written
CHECKED = ("brightness", "contrast")  # image statistics whose render median must stay in the gold range
TOLERANCE = 5.0  # grey levels: render-to-render noise of a median over CHECK_IMAGES images


# ---- 1. clear failures ------------------------------------------------------------------------------

def wilson(recall: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion `recall` observed on `n` trials."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(float(recall), 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def clearly_failing(b: dict, overall: float | None) -> tuple[bool, str]:
    """(act, reason): rule 1 for one report bin (its `recall` and `n_gold`)."""
    rec, n = b.get("recall"), int(b.get("n_gold") or 0)
    if rec is None:
        return False, "no recall recorded"
    if overall is None:
        return False, "the report records no overall recall to compare with"
    if rec >= overall:
        return False, f"recall {rec:.2f} is at or above the overall {overall:.2f}: not a failure"
    lo, hi = wilson(rec, n)
    if hi >= overall:
        return False, (f"recall {rec:.2f} on {n} gold instances (95% interval {lo:.2f}–{hi:.2f}) is not clearly "
                       f"below the overall {overall:.2f}")
    return True, f"recall {rec:.2f} (95% interval {lo:.2f}–{hi:.2f}) clearly below the overall {overall:.2f}"


FLAGGED = ("under-covered", "covered-failing")  # the verdicts a diagnosis reports as findings


def flagged(report: dict, dims: tuple[str, ...] | None = None):
    """Every finding of a diagnosis report (a FLAGGED bin with enough gold instances), judged by rule 1:
    (dim, bin index, bin, act, why), in the report's order. What refine acts on and what diagnose
    lists as a clear failure are one judgement."""
    min_n = report.get("thresholds", {}).get("min_instances", 10)
    for dim, s in report["slices"].items():
        if dims is not None and dim not in dims:
            continue
        for i, b in enumerate(s["bins"]):
            if b["verdict"] in FLAGGED and b["n_gold"] >= min_n:
                yield (dim, i, b, *clearly_failing(b, report.get("recall")))


# ---- 2. bounded steps ---------------------------------------------------------------------------------

def bound(old: float, new: float, floor: float | None = None, ceil: float | None = None,
          factor: float = MAX_FACTOR) -> float:
    """`new`, kept within [old / factor, old × factor] (old > 0) and [floor, ceil]."""
    if old > 0:
        new = min(max(new, old / factor), old * factor)
    if floor is not None:
        new = max(new, floor)
    if ceil is not None:
        new = min(new, ceil)
    return new


def bound_range(old, new, floor: float | None = None, ceil: float | None = None,
                factor: float = MAX_FACTOR) -> list[float]:
    """Each end of a positive range bounded (see `bound`), kept ordered."""
    lo, hi = (bound(float(o), float(n), floor, ceil, factor) for o, n in zip(old, new))
    return [lo, max(lo, hi)]


def bound_shift(old, new, shift: float = MAX_SHIFT_DEG) -> list[float]:
    """Each end of an angle range moved by at most `shift`, kept ordered."""
    lo, hi = (min(max(float(n), float(o) - shift), float(o) + shift) for o, n in zip(old, new))
    return [lo, max(lo, hi)]


# ---- 3. look before writing -----------------------------------------------------------------------------

def render_stats(config, count: int = CHECK_IMAGES) -> dict[str, np.ndarray]:
    """Per-image statistics of images 0..count-1 of `config`, rendered in-process as `generate` makes them
    (its renderer, post-processing, JPEG quality) and measured as `inspect` measures files."""
    import cv2

    from ..generation.producer import ImageProducer, image_files
    from ..renderers.pybullet import resolve_renderer
    from ..assets.prepare import prepare
    from .stats import IMAGE_STATS, image_stats_bgr

    config = prepare(config)
    producer = ImageProducer(config, resolve_renderer(config.renderer.backend))
    rows = []
    try:
        for i in range(min(count, config.count)):
            jpg = image_files(producer.produce(i), config.output.jpeg_quality)[1][1]
            rows.append(image_stats_bgr(cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)))
    finally:
        producer.close()
    return {k: np.asarray([r[k] for r in rows], float) for k in IMAGE_STATS}


def _summary(report: dict, side: str, folder_key: str, images_of) -> dict | None:
    """report.json's `image_stats[side]` as `diagnose` records it, else measured on the folder the report
    names under `folder_key` (`images_of(folder)`: its image files); None when neither is there."""
    from .stats import set_image_stats, summarise

    rec = (report.get("image_stats") or {}).get(side)
    if rec:
        return rec
    folder = report.get(folder_key)
    if not folder or not Path(folder).is_dir():
        return None
    images = images_of(folder)
    return summarise(set_image_stats(images)) if images else None


def gold_summary(report: dict) -> dict | None:
    """The gold photos' per-image statistics (median, range)."""
    from ..realdata.gold import load_gold

    return _summary(report, "gold", "gold", lambda f: load_gold(f).images)


def synthetic_summary(report: dict) -> dict | None:
    """The diagnosed dataset's per-image statistics (median, range)."""
    from .inspect import load_dataset

    return _summary(report, "synthetic", "dataset", lambda f: load_dataset(f).images)


def summarise_renders(renders: dict[str, np.ndarray]) -> dict:
    """render_stats' arrays as check_renders reads a set: {stat: {"median": ...}}."""
    return {k: {"median": float(np.median(v))} for k, v in renders.items() if len(v)}


def _outside(x: float, lo: float, hi: float) -> float:
    """How far x lies outside [lo, hi] (0 inside; negative below, positive above)."""
    return x - hi if x > hi else (x - lo if x < lo else 0.0)


def check_renders(renders: dict[str, np.ndarray], gold: dict, unrefined: dict | None) -> tuple[list[str], list[str]]:
    """(problems, notes): rule 3 on the refined config's render statistics, against the unrefined
    config's renders of the same images (`unrefined`: {stat: {"median": ...}})."""
    problems, notes = [], []
    for k in CHECKED:
        g, v = gold.get(k) or {}, renders.get(k)
        if v is None or not len(v) or g.get("min") is None:
            continue
        m = float(np.median(v))
        out = _outside(m, g["min"], g["max"])
        if not out:
            continue
        where = "below the darkest" if k == "brightness" and out < 0 else \
            "above the brightest" if k == "brightness" else ("below the lowest" if out < 0 else "above the highest")
        said = (f"median {k} of {len(v)} renders of the refined config is {m:.1f}, {where} gold photo's "
                f"({g['min']:.1f}–{g['max']:.1f}, median {g['median']:.1f})")
        s = (unrefined or {}).get(k) or {}
        before = s.get("median")
        if before is not None:
            was = _outside(before, g["min"], g["max"])
            said += f"; the unrefined config's renders of the same images: {before:.1f}"
            if was and np.sign(was) == np.sign(out) and abs(out) <= abs(was) + TOLERANCE:
                notes.append(f"{said}: already outside the gold range before refine, not moved farther")
                continue
        problems.append(said)
    return problems, notes

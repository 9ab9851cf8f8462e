"""Spread of the benchmark's numbers: mean ± std over training seeds, bootstrap intervals over evaluation images.

The bootstrap resamples the evaluation photos (with replacement) and re-scores mAP50 from the
per-image matched detections one validation pass recorded (Ultralytics' own `ap_per_class` on the
resampled tp / conf / pred_cls / target_cls), so no resample needs inference.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..core.files import atomic_write

KEYS = ("tp", "conf", "pred_cls", "pred_img", "target_cls", "target_img")


def summarize(values: list[float]) -> dict:
    """Mean, sample standard deviation (None for one seed) and the number of seeds."""
    v = [float(x) for x in values]
    n = len(v)
    mean = sum(v) / n if n else None
    std = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1)) if n > 1 else None
    return {"mean": mean, "std": std, "n_seeds": n}


def map50(stats: dict, images: np.ndarray | None = None) -> float:
    """mAP50 of the images `images` (indices, repeats counted; default all) from per-image matches."""
    from ultralytics.utils.metrics import ap_per_class

    if images is None:
        images = np.arange(int(stats["n_images"]))
    # rows of every (possibly repeated) image, in resample order
    p_rows = np.concatenate([np.flatnonzero(stats["pred_img"] == i) for i in images]) if len(images) else np.zeros(0, int)
    t_rows = np.concatenate([np.flatnonzero(stats["target_img"] == i) for i in images]) if len(images) else np.zeros(0, int)
    if not len(t_rows):
        return float("nan")
    tp = stats["tp"][p_rows].reshape(-1, 1)
    ap = ap_per_class(tp, stats["conf"][p_rows], stats["pred_cls"][p_rows], stats["target_cls"][t_rows])[5]
    return float(ap[:, 0].mean()) if len(ap) else 0.0


def bootstrap_map50(stats: dict, n: int = 200, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile interval of mAP50 over `n` resamples of the evaluation images; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    m = int(stats["n_images"])
    samples = np.array([map50(stats, rng.integers(0, m, m)) for _ in range(n)])
    samples = samples[~np.isnan(samples)]
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2]) if len(samples) else (np.nan, np.nan)
    return {"point": map50(stats), "low": float(lo), "high": float(hi), "level": level, "resamples": n, "seed": seed}


def per_image_stats(weights, gold, images: list[Path], names: list[str], *, imgsz: int, batch: int = 16,
                    device: str = "cpu") -> dict:
    """One validation pass recording, per evaluation image, its predictions' IoU-0.5 matches and its gold classes."""
    import tempfile

    from ultralytics.models.yolo.detect import DetectionValidator

    from ..realdata.gold import write_view
    from ..train.offline import set_threads, ultralytics

    rows: list[dict] = []

    class Recording(DetectionValidator):
        def init_metrics(self, model):
            super().init_metrics(model)
            update = self.metrics.update_stats

            def record(stat):
                rows.append({k: np.asarray(stat[k]) for k in ("tp", "conf", "pred_cls", "target_cls")})
                update(stat)

            self.metrics.update_stats = record

    ul = ultralytics()
    set_threads(None)
    with tempfile.TemporaryDirectory(prefix="synthscene-boot-") as tmp:
        data_yaml = write_view(gold, images, names, Path(tmp) / "gold", what=f"the model ({weights})")
        ul.YOLO(str(weights), task="detect").val(
            validator=Recording, data=str(data_yaml), split="val", project=tmp, name="val", exist_ok=True,
            imgsz=imgsz, batch=batch, device=device, plots=False, save_json=False, verbose=False, workers=0)
    return {
        "tp": np.concatenate([r["tp"].reshape(len(r["conf"]), -1)[:, 0] for r in rows]).astype(bool) if rows else np.zeros(0, bool),
        "conf": np.concatenate([r["conf"] for r in rows]) if rows else np.zeros(0),
        "pred_cls": np.concatenate([r["pred_cls"] for r in rows]) if rows else np.zeros(0),
        "pred_img": np.concatenate([np.full(len(r["conf"]), i) for i, r in enumerate(rows)]) if rows else np.zeros(0, int),
        "target_cls": np.concatenate([r["target_cls"] for r in rows]) if rows else np.zeros(0),
        "target_img": np.concatenate([np.full(len(r["target_cls"]), i) for i, r in enumerate(rows)]) if rows else np.zeros(0, int),
        "n_images": len(rows),
    }


def save_stats(file: Path, stats: dict) -> None:
    import io

    buf = io.BytesIO()
    np.savez(buf, **stats)
    atomic_write(file, buf.getvalue())


def load_stats(file: Path) -> dict:
    with np.load(file) as z:
        return {k: z[k] for k in z.files}

"""What to change in a dataset config when a synthetic statistic is far from the photos'.

A gap is *large* when the medians differ by more than RELATIVE_GAP (15 %) of the gold median
(box position: when the spread of box centres differs by that much, or the median centre is more
than POSITION_SHIFT of the image away). Each large gap names the config key that moves the
statistic (docs/RANDOMIZERS.md) and the direction to move it.

Each photometric gap (brightness, contrast, saturation) and the box-size gap also carries a
`change`: one config change sized from the two medians that moves the figure by about the gap,
measured (docs/TARGETED.md, "Advice that moves the figure"; diagnosis/moves.py applies it):
a last step appended to `randomizers.post.transform`, which acts on every pixel of the final
image, where `lighting.intensity` lights only the rendered scene (not background photos) and a
ColorJitter with p < 1 or a range around 1 barely moves a median. The photometric advice also
says what docs/RESULTS.md measured: matching LM-O's photo statistics made the detector worse.
"""
from __future__ import annotations

import numpy as np

RELATIVE_GAP = 0.15
POSITION_SHIFT = 0.10  # of the image width / height
_POST = "`randomizers.post` (albumentations)"

# statistic → (what it is, word when the synthetic value is higher, word when lower, key, direction if higher, if lower)
#: what docs/RESULTS.md measured about matching photo statistics (said with every photometric advice)
MATCHING_NOTE = ("matching these statistics has not helped where it was measured: on LM-O, configs/lmo_sensor.yaml "
                 "brought the renders to the photos' grey level and contrast and the detector scored worse (mAP50 "
                 "0.040 vs 0.082; 0.137 vs 0.217 at 4x the budget; docs/RESULTS.md, 'Matching the camera to the "
                 "photos made it worse'). Try it as a benchmark arm, not as the recipe; it is worth it when "
                 "`synthscene diagnose` shows the misses in the photos' brightness or contrast slices")
PHOTOMETRIC = ("brightness", "contrast", "saturation")

RULES = {
    "brightness": ("images", "brighter", "darker", "randomizers.lighting.intensity", "lower", "raise",
                   f"or a brightness shift in {_POST}: RandomBrightnessContrast brightness_limit"),
    "contrast": ("images", "higher-contrast", "lower-contrast", "randomizers.post", "lower contrast", "raise contrast",
                 "RandomBrightnessContrast contrast_limit or ColorJitter contrast"),
    "saturation": ("images", "more saturated", "less saturated", "randomizers.post", "lower saturation",
                   "raise saturation", "ColorJitter saturation / HueSaturationValue sat_shift_limit; targets' own "
                   "colours: randomizers.texture.color_jitter.saturation"),
    "blur": ("images", "sharper", "blurrier", "randomizers.post", "add blur", "reduce blur",
             "MotionBlur / GaussianBlur / Defocus; blur = variance of the Laplacian, lower is blurrier"),
    "box_size_px": ("boxes", "larger", "smaller", "randomizers.camera.distance", "raise", "lower",
                    "farther camera = smaller boxes; in mode box_size move randomizers.camera.box_px the other way"),
    "objects_per_image": ("images", "more crowded", "less crowded", "assets[*].count", "lower the maxima",
                          "raise the maxima", "objects per image; scene.max_targets caps the targets, "
                          "randomizers.occlusion.distractors adds unlabelled clutter"),
    "box_aspect_w_over_h": ("boxes", "wider", "taller", "randomizers.camera.elevation_deg", "match the photos' viewpoints",
                            "match the photos' viewpoints", "box shape follows the viewpoint and the objects' resting "
                            "poses (randomizers.pose.per_asset upright/axes)"),
}


def _rel(a: float, b: float) -> float | None:
    return None if abs(b) < 1e-9 else (a - b) / abs(b)


def advice(stats: dict[str, np.ndarray], gold: dict[str, np.ndarray]) -> list[dict]:
    """One entry per statistic whose gap to the gold set is large (see the module docstring)."""
    out = []
    for name, (what, up, down, key, d_up, d_down, how) in RULES.items():
        a, b = stats.get(name), gold.get(name)
        if a is None or b is None or not len(a) or not len(b):
            continue
        ma, mb = float(np.median(a)), float(np.median(b))
        gap = _rel(ma, mb)
        if gap is None or abs(gap) <= RELATIVE_GAP:
            continue
        word, direction = (up, d_up) if gap > 0 else (down, d_down)
        from .moves import change_for, describe

        change = change_for(name, ma, mb)
        if change is None:
            why = (f"synthetic {what} {abs(gap):.0%} {word} than the photos (median {ma:.3g} vs {mb:.3g}): "
                   f"{direction} `{key}` ({how})")
        else:
            why = (f"synthetic {what} {abs(gap):.0%} {word} than the photos (median {ma:.3g} vs {mb:.3g}): "
                   f"{describe(change)}" + (f"; or {direction} `{key}` ({how})" if key != change["key"] else ""))
            key = change["key"]
        if name in PHOTOMETRIC:
            why += f". Note: {MATCHING_NOTE}"
        out.append({"statistic": name, "synthetic": ma, "gold": mb, "gap": gap, "key": key, "direction": direction,
                    "change": change, "why": why})
    out += _position(stats, gold)
    return out


def _position(stats: dict, gold: dict) -> list[dict]:
    xs, ys, gx, gy = (stats.get("box_center_x"), stats.get("box_center_y"), gold.get("box_center_x"), gold.get("box_center_y"))
    if any(v is None or len(v) < 2 for v in (xs, ys, gx, gy)):
        return []
    out = []
    sa, sb = float(np.hypot(np.std(xs), np.std(ys))), float(np.hypot(np.std(gx), np.std(gy)))
    gap = _rel(sa, sb)
    if gap is not None and abs(gap) > RELATIVE_GAP:
        direction = "lower" if gap > 0 else "raise"
        out.append({"statistic": "box_center_spread", "synthetic": sa, "gold": sb, "gap": gap,
                    "key": "randomizers.camera.look_at_jitter", "direction": direction,
                    "why": f"synthetic boxes {abs(gap):.0%} {'more' if gap > 0 else 'less'} spread over the image than "
                           f"in the photos (std of centres {sa:.3g} vs {sb:.3g}, image = 1): {direction} "
                           "`randomizers.camera.look_at_jitter`"})
    dx, dy = float(np.median(xs) - np.median(gx)), float(np.median(ys) - np.median(gy))
    if max(abs(dx), abs(dy)) > POSITION_SHIFT:
        out.append({"statistic": "box_center_offset", "synthetic": [float(np.median(xs)), float(np.median(ys))],
                    "gold": [float(np.median(gx)), float(np.median(gy))], "gap": [dx, dy],
                    "key": "randomizers.camera.aim", "direction": "aim at the targets",
                    "why": f"synthetic box centres sit off the photos' (median offset x {dx:+.2f}, y {dy:+.2f} of the "
                           "image): set `randomizers.camera.aim: targets` or move `randomizers.camera.look_at`"})
    return out

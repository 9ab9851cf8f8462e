"""Config changes that move an `inspect` statistic by a known amount: what advice.py names.

Measured on configs/lmo.yaml, 10 renders per variant, medians as `inspect` measures them
(docs/TARGETED.md, "Advice that moves the figure"): ColorJitter contrast [0.8, 1.6] at p 0.6 moved
the median grey std 30.9 → 32.1 (the complaint of issue 26: a jitter around 1, applied to some
images, leaves the median where it was); the same ColorJitter with contrast [1.45, 1.55] at p 1
moved it to 45.1. So each change here is a last step of the post pipeline, applied to every image
(p 1), its range centred on the factor or shift the gap asks for:

- brightness: RandomBrightnessContrast, brightness_by_max, contrast 0: adds δ·255 to every pixel,
  δ = (gold − synthetic median) / 255: the mean moves by δ·255, the grey std stays (clipping aside).
- contrast: ColorJitter contrast c = gold / synthetic std: every pixel moves away from the image's
  grey mean by ×c: the std scales by c, the mean stays.
- saturation: ColorJitter saturation s = gold / synthetic HSV saturation (a blend with the grey image).
- box size: box side ∝ 1 / camera distance, so distance × synthetic / gold side (mode box_size:
  box_px × gold / synthetic).
"""
from __future__ import annotations

import copy

POST_KEY = "randomizers.post.transform"
SPREAD = 0.05  # the step's range: its centre ± this (a factor ± 5 %, a shift ± 0.05 of full scale ... /255)


def _r(x: float) -> float:
    return float(f"{x:.3g}")


def _jitter(**factors) -> dict:
    step = {"__class_fullname__": "ColorJitter", "p": 1.0, "brightness": [1.0, 1.0], "contrast": [1.0, 1.0],
            "saturation": [1.0, 1.0], "hue": [0.0, 0.0]}
    for k, f in factors.items():
        step[k] = [_r(max(f * (1 - SPREAD), 0.0)), _r(f * (1 + SPREAD))]
    return step


def change_for(statistic: str, synthetic: float, gold: float) -> dict | None:
    """The change that moves `statistic`'s synthetic median toward `gold`, or None when none is known."""
    if statistic == "brightness":
        d = (gold - synthetic) / 255.0
        step = {"__class_fullname__": "RandomBrightnessContrast", "p": 1.0,
                "brightness_limit": [_r(d - SPREAD / 5), _r(d + SPREAD / 5)], "contrast_limit": [0.0, 0.0],
                "brightness_by_max": True}
        return {"key": POST_KEY, "append": step, "moves": f"the mean grey level by {gold - synthetic:+.3g}"}
    if statistic in ("contrast", "saturation") and synthetic > 1e-6:
        f = gold / synthetic
        step = _jitter(**{statistic: f})
        what = "the grey std" if statistic == "contrast" else "the HSV saturation"
        return {"key": POST_KEY, "append": step, "moves": f"{what} by ×{f:.2g}"}
    if statistic == "box_size_px" and gold > 1e-6:
        k = synthetic / gold
        return {"key": "randomizers.camera.distance", "scale": _r(k), "box_size_key": "randomizers.camera.box_px",
                "box_size_scale": _r(1 / k), "moves": f"the box side by ×{1 / k:.2g}"}
    return None


def describe(change: dict) -> str:
    """The change in words, as the advice prints it."""
    if "append" in change:
        step = ", ".join(f"{k}: {v}" for k, v in change["append"].items())
        return (f"append `{{{step}}}` as the last step of `{change['key']}` (every image, p 1; moves {change['moves']}; "
                "a step with p < 1 or a range around 1 barely moves a median)")
    return (f"scale `{change['key']}` by ×{change['scale']:g} (mode box_size: `{change['box_size_key']}` by "
            f"×{change['box_size_scale']:g}); moves {change['moves']}")


def _get(data: dict, key: str):
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _put(data: dict, key: str, value) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def apply(raw: dict, config, advice: list[dict]) -> dict:
    """`raw` (a config's YAML mapping) with every advice entry's `change` made; `config` is its validated
    DatasetConfig (for the values the YAML leaves at their defaults). Returns a new mapping."""
    out = copy.deepcopy(raw)
    for tip in advice:
        c = tip.get("change")
        if not c:
            continue
        if "append" in c:
            post = config.randomizers.post
            pipeline = _get(out, POST_KEY)
            if pipeline is None:
                pipeline = {"transform": {"__class_fullname__": "Compose", "p": 1.0, "transforms": []}}
                if post.transform is not None:  # a default pipeline the YAML does not spell out
                    pipeline["transform"]["transforms"].append(copy.deepcopy(post.transform.get("transform", post.transform)))
            if pipeline["transform"].get("__class_fullname__") != "Compose":  # one transform: composed with the step
                pipeline["transform"] = {"__class_fullname__": "Compose", "p": 1.0, "transforms": [pipeline["transform"]]}
            pipeline["transform"].setdefault("transforms", []).append(copy.deepcopy(c["append"]))
            _put(out, POST_KEY, pipeline)
            _put(out, "randomizers.post.enabled", True)
        else:
            cam = config.randomizers.camera
            key, k = (c["box_size_key"], c["box_size_scale"]) if cam.mode == "box_size" else (c["key"], c["scale"])
            old = getattr(cam, key.rsplit(".", 1)[1])
            _put(out, key, [_r(v * k) for v in old])
    return out

"""Fuzzing the config loader: any YAML text or mapping gives a valid config or BadInput, nothing else."""
from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthscene.config import DatasetConfig, config_from_dict, load_config
from synthscene.core.errors import BadInput

KEYS = ["seed", "count", "classes", "assets", "scene", "camera", "randomizers", "labels", "output", "renderer",
        "name", "urdf", "class", "scale", "allow_external_paths", "width", "height", "fov_deg", "intrinsics",
        "fx", "fy", "cx", "cy", "near", "far", "pose", "lighting", "mode", "volume", "x", "y", "z", "dir",
        "val_fraction", "jpeg_quality", "backend", "ground", "rgba", "max_targets", "min_box_px", "distance",
        "elevation_deg", "shadow_probability", "settle_steps", "enabled"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["pybullet:duck_vhacd.urdf", "pybullet:nothere.urdf", "egl", "drop", "free", "../x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)),
    max_leaves=25,
)
configs = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)
asset = st.fixed_dictionaries({"name": st.sampled_from(["duck", "d2"]), "urdf": st.just("pybullet:duck_vhacd.urdf")},
                              optional={k: values for k in ("count", "scale", "class", "allow_external_paths")})
near_valid = st.fixed_dictionaries({"assets": st.lists(asset, min_size=0, max_size=3)},
                                   optional={k: values for k in ("seed", "count", "camera", "randomizers", "output", "classes")})


def _accepts(data, tmp_path=None) -> None:
    try:
        cfg = config_from_dict(data, base_dir=tmp_path, source="fuzz.yaml")
    except BadInput as err:
        assert str(err)
        return
    assert isinstance(cfg, DatasetConfig)
    cfg.content_hash()  # a valid config is also hashable and serialisable


@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(configs, near_valid, values))
def test_any_mapping_gives_config_or_bad_input(data):
    _accepts(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(alphabet=string.printable + "äß\u2028\x00", max_size=200),
                 near_valid.map(lambda d: yaml.safe_dump(d, allow_unicode=True))))
@pytest.mark.slow  # renders or runs a process (measured > 1.5 s)
def test_any_yaml_text_gives_config_or_bad_input(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    try:
        path.write_text(text)
    except (UnicodeEncodeError, ValueError):
        return
    try:
        cfg = load_config(path)
    except BadInput as err:
        assert str(err)
        return
    assert isinstance(cfg, DatasetConfig)


def test_python_tags_are_not_executed(tmp_path):
    """yaml.safe_load only: a !!python tag is refused, not run."""
    path = tmp_path / "evil.yaml"
    path.write_text("seed: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(BadInput, match="YAML"):
        load_config(path)
    assert not (tmp_path / "pwned").exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 9), st.integers(1, 12))
def test_nested_aliases_load_small_or_are_refused(tmp_path, depth, width):
    """Aliases of aliases (a "billion laughs") either stay small once expanded or are refused."""
    from synthscene.core.yamlfile import read_yaml
    from synthscene.core.schema import MAX_YAML_NODES

    lines = ["x0: &x0 [a]"] + [f"x{k}: &x{k} [{', '.join([f'*x{k - 1}'] * width)}]" for k in range(1, depth + 1)]
    path = tmp_path / "aliases.yaml"
    path.write_text("\n".join(lines) + "\n")
    expanded = sum(sum(width ** j for j in range(k + 1)) + 1 for k in range(depth + 1))  # every list and its leaves
    try:
        data = read_yaml(path)
    except BadInput as err:
        assert "aliases" in str(err) and expanded > MAX_YAML_NODES // 2
        return
    assert _size(data, 2 * MAX_YAML_NODES) >= 0  # counted with a budget: never expands a bomb itself


def _size(value, budget: int) -> int:
    """What is left of `budget` after counting the values in `value` (shared ones each time)."""
    budget -= 1
    for child in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        if budget < 0:
            break
        budget = _size(child, budget)
    return budget

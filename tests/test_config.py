"""Config validation: every bad input names the file and the field, exits 2, shows no traceback."""
from __future__ import annotations

import pytest

from conftest import refused, run_cli, small_config
from synthscene import BadInput, load_config


def test_small_config_loads_with_defaults_and_resolved_paths(write_config):
    cfg = load_config(write_config(small_config()))
    assert cfg.class_names == ["duck", "mug", "lego"]
    assert cfg.assets[0].urdf.endswith("pybullet_data/duck_vhacd.urdf")
    assert cfg.randomizers.pose.mode == "drop"
    assert cfg.camera.K[0, 2] == pytest.approx(79.5)


def test_relative_paths_resolve_against_the_config_file(write_config, tmp_path):
    (tmp_path / "assets").mkdir()
    import pybullet_data, shutil

    for name in ("cube.urdf", "cube.obj"):  # the URDF with its mesh (checked by prepare; loading resolves the path)
        shutil.copy(pybullet_data.getDataPath() + "/" + name, tmp_path / "assets" / name)
    cfg = small_config(assets=[{"name": "cube", "urdf": "assets/cube.urdf"}], output={"dir": "out"})
    loaded = load_config(write_config(cfg))
    assert loaded.assets[0].urdf == str(tmp_path / "assets" / "cube.urdf")
    assert loaded.output.dir == str(tmp_path / "out")


def test_inverted_range_names_the_field(write_config):
    cfg = small_config()
    cfg["randomizers"]["camera"]["distance"] = [1.0, 0.5]
    msg = refused(write_config, cfg)
    assert "randomizers.camera.distance: expected [min, max] with min <= max" in msg


def test_unknown_key_is_rejected(write_config):
    cfg = small_config()
    cfg["camera"]["fov"] = 40
    assert "camera.fov: unknown key" in refused(write_config, cfg)


def test_wrong_type_names_the_list_index(write_config):
    cfg = small_config()
    cfg["assets"][1]["count"] = "many"
    assert "assets[1].count: expected [min, max]" in refused(write_config, cfg)


def test_missing_asset_file(write_config):
    cfg = small_config(assets=[{"name": "ghost", "urdf": "nowhere/ghost.urdf"}])
    msg = refused(write_config, cfg)
    assert "assets[0].urdf: file not found" in msg and "ghost.urdf" in msg


def test_missing_required_field(write_config):
    cfg = small_config()
    del cfg["assets"]
    assert "assets: required field is missing" in refused(write_config, cfg)


def test_fov_and_intrinsics_together(write_config):
    cfg = small_config(camera={"fov_deg": 50, "intrinsics": {"fx": 500, "fy": 500, "cx": 320, "cy": 240}})
    assert "camera: give either fov_deg or intrinsics, not both" in refused(write_config, cfg)


def test_class_not_in_classes_list(write_config):
    cfg = small_config(classes=["duck", "mug"])
    assert "lego" in refused(write_config, cfg)


def test_malformed_yaml_gives_the_line(write_config):
    msg = refused(write_config, "seed: 1\nassets: [\n  {name: duck\n")
    assert "invalid YAML" in msg and "line" in msg


def test_not_a_mapping(write_config):
    assert "expected a mapping" in refused(write_config, "- just\n- a list\n")


def test_cli_reports_bad_config_with_exit_2_and_no_traceback(write_config, tmp_path):
    cfg = small_config()
    cfg["randomizers"]["camera"]["elevation_deg"] = [80, 10]
    path = write_config(cfg)
    proc = run_cli("generate", path, "--out", tmp_path / "out", check=False)
    assert proc.returncode == 2
    assert "randomizers.camera.elevation_deg" in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing written for a config that never loaded
    proc = run_cli("--debug", "generate", path, "--out", tmp_path / "out", check=False)
    assert "Traceback" in proc.stderr


def test_cli_missing_config_file_exit_2(tmp_path):
    proc = run_cli("generate", tmp_path / "nope.yaml", "--out", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "config file not found" in proc.stderr

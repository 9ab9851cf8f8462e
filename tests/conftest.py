from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()


def small_config(**overrides) -> dict:
    """A fast config on bundled PyBullet assets: 160×120, a few objects."""
    cfg = {
        "seed": 3,
        "count": 6,
        "assets": [
            {"name": "duck", "urdf": "pybullet:duck_vhacd.urdf", "count": [1, 2]},
            {"name": "mug", "urdf": "pybullet:objects/mug.urdf", "count": [0, 2]},
            {"name": "lego", "urdf": "pybullet:lego/lego.urdf", "count": [0, 1], "scale": 2.0},
        ],
        "camera": {"width": 160, "height": 120, "fov_deg": 50},
        "randomizers": {
            "pose": {"mode": "drop", "settle_steps": 120},
            "camera": {"distance": [0.5, 0.7], "elevation_deg": [35, 70]},
        },
        "output": {"val_fraction": 0.3},
    }
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


@pytest.fixture
def write_config(tmp_path):
    def write(cfg: dict | str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg))
        return path

    return write


def run_cli(*args, check: bool = True, timeout: int = 600, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`synthscene ARGS` in a fresh process, from `cwd` (this checkout's package whatever the folder)."""
    proc = subprocess.run(
        [sys.executable, "-m", "synthscene.cli", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"synthscene {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def refused(write_config, cfg) -> str:
    """The BadInput message of loading this config, which must name its file."""
    from synthscene import BadInput, load_config

    path = write_config(cfg)
    with pytest.raises(BadInput) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg
    return msg


def run_main(monkeypatch, capsys, *args) -> tuple[int, str]:
    """`synthscene ARGS` in this process: (exit code, stderr). Whatever happens, no traceback reaches stderr."""
    from synthscene import cli

    monkeypatch.setattr(sys, "argv", ["synthscene", *map(str, args)])
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.fixture
def shared() -> Path:
    """../shared (textures, backgrounds, gold set), read in place."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


#: What makes a test `slow` (left out by `make test-fast`, which must stay under 90 s): a CLI
#: subprocess or any other process, worker processes (--workers > 1), the Ray executor, training
#: or a benchmark, and rendering (a dataset, a world, an asset's views). Modules made only of such
#: tests say so with `pytestmark = pytest.mark.slow`; elsewhere a test whose own code or whose
#: fixtures' code does one of these is marked here, so a new test of that kind lands in the slow
#: lane without a decorator. The fast lane keeps the pure tests: schema, sampling, geometry,
#: label maths, writers' helpers, evaluation and diagnosis on given boxes, the architecture.
SLOW_CODE = re.compile(r"run_cli\(|run_main\(|subprocess\.|sys\.executable|backend=\"ray\"|workers=[2-9]"
                       r"|\"--workers\", \"[2-9]\"|run_processes\(|\btrain\(|run_benchmark\("
                       r"|generate\(|World\(|ImageProducer\(|render_views\(|turntable\(|preview\(|\bprepare\(|\bbuild\(|add_asset\(")


def _sources(item) -> str:
    """The test's code and that of the fixtures it uses (those defined in tests/)."""
    fns = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info else ()):
        fns += [d.func for d in defs if "tests" in Path(inspect.getfile(d.func)).parts]
    out = []
    for fn in fns:
        try:
            out.append(inspect.getsource(fn))
        except (TypeError, OSError):
            pass
    return "\n".join(out)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_CODE.search(_sources(item)):
            item.add_marker(pytest.mark.slow)

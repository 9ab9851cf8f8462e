"""A render worker's memory: what it hands back keeps its bytes, and what it no longer imports
(benchmarks/worker_memory.py measures the whole start-up)."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, small_config
from synthscene.renderers import memory
from synthscene.renderers.memory import PAGE, anonymous_regions, released_zero_pages, trim_heap

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's /proc and madvise")


def resident(a: np.ndarray, touching: bool = False) -> float:
    """The fraction of the pages wholly inside `a` (or `touching` it) that are in memory (mincore)."""
    lo, hi = a.ctypes.data, a.ctypes.data + a.nbytes
    start = lo // PAGE * PAGE if touching else -(-lo // PAGE) * PAGE
    n = (-(-hi // PAGE) * PAGE if touching else hi // PAGE * PAGE) // PAGE - start // PAGE
    vec = (ctypes.c_ubyte * n)()
    assert memory._LIBC.mincore(ctypes.c_void_p(start), ctypes.c_size_t(n * PAGE), vec) == 0
    return float((np.frombuffer(vec, np.uint8) & 1).mean())


@linux
def test_zero_pages_of_a_new_large_mapping_are_handed_back_and_still_read_zero():
    with released_zero_pages():
        a = np.empty(80 * 2**20, np.uint8)  # one mapping of its own, larger than any malloc arena
        a[: 40 * 2**20] = 0
        a[40 * 2**20:] = 7
        a[12345] = 1  # a page with one byte set stays
        assert resident(a) == 1.0
    zeros, sevens = a[PAGE * 4: 40 * 2**20], a[40 * 2**20:]
    assert resident(zeros) == 0.0 and resident(sevens) == 1.0 and resident(a[12345:12346], touching=True) == 1.0
    assert a[:12345].max() == 0 and a[12345] == 1 and a[12346: 40 * 2**20].max() == 0
    assert (sevens == 7).all()
    a[100] = 5  # written again after it was handed back: an ordinary page
    assert a[100] == 5 and a[:100].max() == 0


@linux
def test_small_or_old_mappings_are_left_alone():
    old = np.empty(80 * 2**20, np.uint8)
    old[:] = 0  # resident zeros, mapped before the block
    with released_zero_pages():
        small = np.empty(8 * 2**20, np.uint8)
        small[:] = 0
    assert resident(old) == 1.0 and resident(small) == 1.0
    assert any(start <= old.ctypes.data < end for start, end in anonymous_regions())
    trim_heap()  # harmless at any time


_WORKER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from synthscene.config import config_from_dict
from synthscene.generation.producer import ImageProducer
p = ImageProducer(config_from_dict(json.loads(sys.argv[2])), "tiny")
meshes = {k: [m.vertices.tolist(), m.faces.tolist()] for k, m in p.labeler.meshes.items()}
print(json.dumps({"trimesh": "trimesh" in sys.modules, "meshes": meshes}))
"""


def test_silhouette_meshes_come_from_the_asset_cache_without_trimesh(tmp_path):
    """The first worker reads the mesh files with trimesh and keeps their arrays in the asset
    cache; the next imports no trimesh and gets the same silhouette meshes."""
    cfg = json.dumps(small_config())
    env = {**os.environ, "SYNTHSCENE_CACHE": str(tmp_path / "cache")}

    def worker():
        out = subprocess.run([sys.executable, "-c", _WORKER, str(ROOT), cfg], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    first, second = worker(), worker()
    assert first["trimesh"] and not second["trimesh"]
    assert first["meshes"] == second["meshes"] and set(first["meshes"]) == {"duck", "mug", "lego"}
    assert len(list((tmp_path / "cache" / "silhouettes").glob("*.npz"))) == 3

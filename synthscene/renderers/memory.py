"""Giving a render worker's idle memory back to the system, without changing any byte it holds.

Two kinds of resident memory serve no purpose in a worker once it has started (Linux, measured on
configs/lmo.yaml, benchmarks/worker_memory.py):

- Zero pages of the EGL plugin's vertex buffer. PyBullet's EGL renderer asks for a 128 MiB
  vertex buffer (+ 8 MiB of instance data) whatever the scene holds, and Mesa's llvmpipe, which
  keeps GL buffers in the process's memory, zero-fills it: 136 MiB resident per worker, almost
  all zeros. `released_zero_pages` hands such pages back (`madvise(MADV_DONTNEED)`): a private
  anonymous page handed back reads as zero again, so its content is unchanged by construction.
  Only pages that are wholly zero, resident, in new anonymous mappings larger than any malloc
  arena (so allocated whole by the code run inside, here the plugin), are touched.
- Freed heap memory that glibc keeps (mesh parsing at start-up leaves tens of MiB free but
  resident): `trim_heap` is glibc's own `malloc_trim(0)`.

Both are no-ops where they do not apply (not Linux, not glibc); a GPU driver keeps its buffers in
the GPU's memory, not in such mappings.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

import numpy as np

PAGE = 4096
_MADV_DONTNEED = 4
#: glibc's malloc arenas (64 MiB each) never reach this size: a larger anonymous mapping is one
#: allocation of its own, made whole by whoever asked for it.
MIN_REGION = 65 * 2**20


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def anonymous_regions() -> set[tuple[int, int]]:
    """(start, end) of this process's private, writable mappings that have no name (no file, heap or stack)."""
    try:
        with open("/proc/self/maps") as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    out = set()
    for line in lines:
        parts = line.split()
        if len(parts) == 5 and parts[1] == "rw-p":
            start, end = (int(x, 16) for x in parts[0].split("-"))
            out.add((start, end))
    return out


def release_zero_pages(regions) -> int:
    """Hand back the resident pages of `regions` that hold only zeros; the bytes handed back.

    The caller owns the regions, and nothing writes to them meanwhile (checking, then handing
    back a page that was being written would lose the write)."""
    if _LIBC is None:
        return 0
    released = 0
    for start, end in regions:
        n = (end - start) // PAGE
        resident = (ctypes.c_ubyte * n)()
        if _LIBC.mincore(ctypes.c_void_p(start), ctypes.c_size_t(n * PAGE), resident) != 0:
            continue
        words = np.frombuffer((ctypes.c_char * (n * PAGE)).from_address(start), dtype=np.uint64).reshape(n, PAGE // 8)
        # Only resident pages are read: reading an untouched page would not make it resident
        # (the kernel maps its shared zero page), but there is no need to look at it.
        idx = np.flatnonzero(np.frombuffer(resident, dtype=np.uint8) & 1)
        zero = idx[~words[idx].any(axis=1)]
        if not len(zero):
            continue
        # Runs of consecutive zero pages, one madvise each.
        breaks = np.flatnonzero(np.diff(zero) != 1) + 1
        for run in np.split(zero, breaks):
            addr, length = start + int(run[0]) * PAGE, len(run) * PAGE
            if _LIBC.madvise(ctypes.c_void_p(addr), ctypes.c_size_t(length), _MADV_DONTNEED) == 0:
                released += length
    return released


@contextlib.contextmanager
def released_zero_pages(min_size: int = MIN_REGION):
    """Zero pages of the large anonymous mappings made inside the block are handed back after it."""
    before = anonymous_regions() if _LIBC is not None else set()
    yield
    if _LIBC is not None:
        release_zero_pages([r for r in anonymous_regions() - before if r[1] - r[0] >= min_size])


def trim_heap() -> None:
    """glibc's malloc_trim(0): freed heap memory back to the system."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)

"""What an interrupted or failing run leaves behind, and how a failed write is reported."""
from __future__ import annotations

import errno
from pathlib import Path

TEMP_GLOB = ".*.tmp-*"  # labels.io.atomic_write's temporary names (cleaned up by outdir.remove_stray_temps)


def write_failure(out_dir: Path, index: int, err: OSError) -> str:
    why = err.strerror or str(err)
    hint = {
        errno.ENOSPC: "the disk is full: free space, then continue with --resume",
        errno.EDQUOT: "the disk quota is exhausted: free space, then continue with --resume",
        errno.EACCES: "no permission to write there: choose another --out",
        errno.EROFS: "the file system is read-only: choose another --out",
    }.get(err.errno, "continue with --resume once it is fixed")
    return (f"cannot write image {index} into {out_dir}: {why} ({err.filename or out_dir}); {hint}. "
            "Nothing partial was kept; the images finished before it are kept")

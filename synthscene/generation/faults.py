"""What an interrupted or failing run leaves behind, and how failures are reported: the one-line
messages naming the image and how to go on, and the worker's traceback carried back for --debug."""
from __future__ import annotations

import errno
import traceback
from pathlib import Path

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


def failure_message(index: int, seed: int, what: str) -> str:
    return (f"image {index} (seed {seed}) failed: {what}; reproduce it with --only {index}; "
            "the images finished so far are kept: continue with --resume")


class WorkerTraceback(Exception):
    """A worker's formatted traceback, chained as the cause of the parent's error: the CLI shows it
    under --debug (as multiprocessing's RemoteTraceback does), the one-line message stays as is."""

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'


def formatted_traceback(err: BaseException) -> str:
    """The traceback of what went wrong in the worker (the cause, if synthscene wrapped it)."""
    return "".join(traceback.format_exception(err.__cause__ or err))

"""Replace a file atomically: every reader sees the old file or the new one, never half.

A run's files (source snapshots, digest.md, result.json, what the agent writes, the model
weights) are read by other tasks, by reruns and by people while a worker may be writing
them, and a worker can die mid-write (OOM kill, lost node, full disk). Writing in place
would leave a truncated file under the final name that the next reader takes as real. So
the new content goes to a temp file in the same directory (same filesystem, so the rename
is atomic), is flushed to disk, and is renamed over the target; on any failure the temp
file is removed and the old file is untouched.

This module imports nothing from Airflow or the rest of agentjobs, so the agent and the
domain can use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_MODE = 0o644  # mkstemp creates 0600; a new file gets the usual mode instead


@contextmanager
def replacing(target: Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path beside `target`; when the block ends without error, it replaces `target`.

    For writers that need a path rather than bytes (e.g. assembling the model weights). The
    temp file keeps an existing target's mode, else gets 0644. On an exception it is removed
    and `target` is left as it was.
    """
    mode = target.stat().st_mode & 0o777 if target.exists() else DEFAULT_MODE
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    tmp = Path(name)
    try:
        os.fchmod(fd, mode)
        os.close(fd)
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(target: Path, content: str | bytes) -> None:
    """Replace `target` with `content` (str is written as UTF-8); see the module docstring."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with replacing(target) as tmp:
        tmp.write_bytes(data)


def _fsync(path: Path) -> None:
    # Without the fsync a crash soon after the rename can leave the new name pointing at
    # blocks that never reached the disk: an empty file instead of the old or the new one.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

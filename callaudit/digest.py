"""The sha256 of a file: the identity of a recording (and of a model file) in every verdict and check."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of the file's bytes, read in blocks (recordings can be hours long). Only a regular
    file is read: a FIFO or a device would block or never end (OSError EINVAL)."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO must not wait for a writer
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

"""Recording folders: the recordings under the folders a batch is given, and the CDR CSVs beside them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from callaudit.errors import CallauditError


def find(paths: Iterable[str | Path], extensions: Iterable[str]) -> Iterator[Path]:
    """Recording files under `paths` (files or folders, searched recursively), in a stable order."""
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    for p in paths:
        p = Path(p)
        if not p.exists() and not p.is_symlink():
            raise CallauditError(f"{p}: no such file or folder")
        if not p.is_dir():
            yield p
            continue
        for folder, dirs, files in os.walk(p, onerror=None):
            dirs.sort()
            for name in sorted(files):
                if Path(name).suffix.lower() in exts:
                    yield Path(folder) / name


def find_cdrs(paths: Iterable[str | Path]) -> list[Path]:
    """CSV files lying in the recording folders: candidates for CDRs."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() == ".csv" and q.is_file())
    return out

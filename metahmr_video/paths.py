"""File-system helpers: the natural order of file names, output folders we can write to, the cache folder."""
from __future__ import annotations

import os
import re
from pathlib import Path

from metahmr_video.errors import InputError


def natural_key(name: str) -> list[object]:
    """Sort key for human order: "f2.png" before "f10.png" (digit runs compare as numbers)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def writable_folder(folder: str | Path) -> Path:
    """Create `folder` if needed; one-line InputError when it cannot be created or written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise InputError(f"{folder}: output folder is not writable")
    return folder


def cache_dir(*parts: str) -> Path:
    """metahmr-video's cache folder joined with `parts` (not created): $XDG_CACHE_HOME/metahmr-video,
    by default ~/.cache/metahmr-video. Per-body-model checkpoints live in its `checkpoints/`."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root.joinpath("metahmr-video", *parts)

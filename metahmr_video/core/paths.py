"""File-system helpers: the natural order of file names, output folders we can write to, the cache
folder, and how this installation adds an optional extra."""
from __future__ import annotations

import os
import re
from pathlib import Path

from metahmr_video.core.errors import InputError


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


def install_command(extra: str, root: str | Path | None = None) -> str:
    """The pip command that adds an optional extra to this installation: from a source checkout
    (the package sits beside its pyproject.toml; installed with `pip install -e`) the checkout
    itself, `pip install -e '.[extra]'` (or the checkout's path when run from elsewhere); from an
    installed wheel, `pip install 'metahmr-video[extra]'`. root: the folder holding the package
    (default: this one's)."""
    root = Path(root).resolve() if root is not None else Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        target = "." if Path.cwd().resolve() == root else str(root)
        return f"pip install -e '{target}[{extra}]'"
    return f"pip install 'metahmr-video[{extra}]'"


def cache_dir(*parts: str) -> Path:
    """metahmr-video's cache folder joined with `parts` (not created): $XDG_CACHE_HOME/metahmr-video,
    by default ~/.cache/metahmr-video. Per-body-model checkpoints live in its `checkpoints/`."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root.joinpath("metahmr-video", *parts)

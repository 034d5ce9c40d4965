"""First use on a new machine: `metahmr-video run` in a fresh HOME (empty ~/.cache), timed (wall
and CPU seconds: on a shared machine the CPU time is the steadier number), and what it leaves in
~/.cache/anny (Anny's model cache) and ~/.cache/warp (compiled kernels). With `--rigs`, then, in
the same HOME: `metahmr-video export` of the results as FBX on the default rig twice (the first
builds the full mesh, the second is warm), then each rig's first export (`--rig R`).

    python benchmarks/first_use.py [--frames 10] [--export glb] [--rigs mixamo game_engine]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from clips import write_clip_head  # noqa: E402  (the tests' clip-head writer)


def _size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6 if folder.exists() else 0.0


def _timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall s, CPU s) of a command, which must succeed."""
    start, cpu0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds, cpu1 = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd[2:4])} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return seconds, (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--export", nargs="*", default=[], help="also export (e.g. glb: builds the full mesh too)")
    ap.add_argument("--rigs", nargs="*", default=[], help="then time each rig's first FBX export (mixamo, game_engine)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        home = Path(home)
        clip = home / "clip.mp4"
        write_clip_head(clip, args.frames, rate=10)
        env = dict(os.environ, HOME=str(home))
        cmd = [sys.executable, "-m", "metahmr_video.app.cli", "run", str(clip), "-o", str(home / "out"), "-q"]
        cmd += ["--export", *args.export] if args.export else []
        for attempt in ("first (empty cache)", "second"):
            seconds, cpu = _timed(cmd, env)
            print(f"{attempt} run of {args.frames} frames{' + export ' + ' '.join(args.export) if args.export else ''}: "
                  f"{seconds:.0f} s wall, {cpu:.0f} s CPU; ~/.cache/anny {_size_mb(home / '.cache' / 'anny'):.0f} MB, "
                  f"~/.cache/warp {_size_mb(home / '.cache' / 'warp'):.1f} MB")
        export = [sys.executable, "-m", "metahmr_video.app.cli", "export", str(home / "out" / "clip.npz"), "-f", "fbx"]
        for name, rig in ([("default rig, first", None), ("default rig, warm", None)] if args.rigs else []) + \
                [(f"{r}, first", r) for r in args.rigs]:
            seconds, cpu = _timed(export + ["-o", str(home / "fbx" / (rig or "default"))] + (["--rig", rig] if rig else []), env)
            print(f"export -f fbx ({name}): {seconds:.1f} s wall, {cpu:.1f} s CPU")
        for f in sorted((home / ".cache" / "anny").rglob("*.safetensors")):
            print(f"  {f.name}: {f.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()

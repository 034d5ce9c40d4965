"""Results NPZ -> animation files: BVH and GLB need nothing more, FBX needs `pip install -e ".[fbx]"`.

    python examples/export_animation.py [RESULTS.npz] [OUT_FOLDER]
"""
import sys
from pathlib import Path

from metahmr_video.export import export

results = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results") / "pedestrians.npz"
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("results") / "animation"
for fmt in ("bvh", "glb", "fbx"):
    try:
        for path in export(results, fmt, out):
            print("wrote", path)
    except Exception as exc:  # e.g. FBX without the fbx extra: say so and go on
        print(f"{fmt}: {exc}")

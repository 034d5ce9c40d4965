"""Live demo: camera -> meshes drawn over the image in a window (q quits); results in results/webcam.npz.

    python examples/webcam_demo.py [CAMERA_INDEX]

No camera, or Ctrl-C while the models load: one line on stderr (exit status 2 / 130).
"""
import sys
from pathlib import Path


def main() -> int:
    from metahmr_video.app.config import Config, override
    from metahmr_video.core.errors import MetaHMRError
    from metahmr_video.app.runner import Runner, run_webcam
    from metahmr_video.sources import WebcamSource

    config = override(Config(), {"adapt.steps": 3})  # fewer TTO steps: more frames per second live
    try:
        camera = WebcamSource(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
        summary = run_webcam(Runner(config), camera, Path("results"), window=True)
    except MetaHMRError as exc:
        print(f"webcam_demo: {exc}", file=sys.stderr)
        return 2
    print(summary.line())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("webcam_demo: interrupted", file=sys.stderr)
        sys.exit(130)

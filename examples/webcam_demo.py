"""Live demo: camera -> meshes drawn over the image in a window (q quits); results in results/webcam.npz.

    python examples/webcam_demo.py [CAMERA_INDEX]
"""
import sys
from pathlib import Path

from metahmr_video.config import Config
from metahmr_video.runner import Runner, run_webcam
from metahmr_video.sources import WebcamSource

config = Config()
config.adapt.steps = 3            # fewer TTO steps: more frames per second live
camera = WebcamSource(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
summary = run_webcam(Runner(config), camera, Path("results"), window=True)
print(summary.line())

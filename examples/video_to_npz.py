"""Video in, per-person body sequences out, wiring the stages by hand (what `metahmr-video run` does).

    python examples/video_to_npz.py [VIDEO] [OUT.npz]
"""
import functools
import sys
from pathlib import Path

import numpy as np
import torch

from metahmr_video.adapt import Adapter, BodyPoser, Fitter
from metahmr_video.core.camera import default_focal, intrinsics
from metahmr_video.detect import MultiPersonDetector
from metahmr_video.app.pipeline import Pipeline
from metahmr_video.core.results import load_results
from metahmr_video.sinks import NpzSink
from metahmr_video.smooth import TrackSmoother
from metahmr_video.sources import VideoSource
from metahmr_video.track import Tracker

video = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "media" / "pedestrians.mp4"
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("results") / f"{video.stem}.npz"

torch.set_num_threads(1)   # per-frame batches are small: one thread is fastest (see Config.threads)
source = VideoSource(video)
focal = default_focal(source.width, source.height)                   # pixels; CLIFF's guess
fitter = Fitter.load()                                                # the shipped meta-checkpoint
tracker = Tracker()                                                   # tracks confirmed on their 2nd hit
pipe = Pipeline(MultiPersonDetector(), tracker, Adapter(fitter, focal=focal), TrackSmoother(),
                BodyPoser(fitter.body),                              # joints from the smoothed parameters
                hold=tracker.config.min_hits - 1)                    # offline: tracks from their 1st frame
meta = dict(body_model="anny", joint_names=fitter.body.bone_names, fps=source.fps,
            image_size=[source.width, source.height], intrinsics=intrinsics(source.width, source.height, focal).tolist())
summary = pipe.run(source, [NpzSink(out, meta)])
print(summary.line())

results = load_results(out)
for track_id, track in results.tracks.items():
    pelvis = track.joints[:, 0]                                       # metres, camera frame
    print(f"track {track_id}: frames {track.frame_ids[0]}-{track.frame_ids[-1]}, "
          f"mean pelvis depth {np.mean(pelvis[:, 2]):.1f} m, reprojection error {track.reproj_error.mean():.1f} px")

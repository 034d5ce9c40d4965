"""The product's detector on every frame of a view, with the result cached as .npz.

The detector is `MultiPersonDetector` with the `run` command's settings (`DetectorConfig`
defaults), run along the video with each frame hinted by the previous frame's people.
Every person it reports is kept (padded per frame); choosing the evaluated person is the
reference's job (metahmr_trainer.realpix.reference).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

CACHE_VERSION = 1


@dataclass
class ViewDetections:
    """All people found in one video, padded to M people per frame (NaN / 0 where absent).

    keypoints2d [F,M,33,2] pixels of the (distorted) video frame; conf [F,M,33] visibility x
    presence in [0,1]; world [F,M,33,3] MediaPipe world landmarks, metres (hip-centred,
    camera-aligned: x right, y down, z away); boxes [F,M,4] xyxy pixels; scores [F,M];
    count [F] people per frame; image_size (width, height) pixels.
    """

    keypoints2d: np.ndarray
    conf: np.ndarray
    world: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    count: np.ndarray
    image_size: tuple[int, int]

    def save(self, path: Path) -> None:
        np.savez_compressed(path, version=CACHE_VERSION, **{f.name: np.asarray(getattr(self, f.name))
                                                           for f in dataclasses.fields(self)})

    @classmethod
    def load(cls, path: Path) -> "ViewDetections":
        with np.load(path) as z:
            data = {f.name: z[f.name] for f in dataclasses.fields(cls)}
        data["image_size"] = tuple(int(v) for v in data["image_size"])
        return cls(**data)


def detect_video(video: Path, progress: bool = True) -> ViewDetections:
    """Run the `run` command's detector over every frame of `video`."""
    from tqdm import tqdm

    from metahmr_video.detect import DetectorConfig, MultiPersonDetector
    from metahmr_video.sources import open_source

    det = MultiPersonDetector(replace(DetectorConfig(), num_threads=1))
    source = open_source(str(video))
    frames = []
    size = (0, 0)
    people: list = []
    for frame in tqdm(source, total=len(source), desc=f"detect {video.name}", unit="frame", disable=not progress,
                      leave=False):
        people = det.detect(frame, hints=people, full=None)
        size = (frame.width, frame.height)
        frames.append(people)
    m = max(1, max(len(p) for p in frames))
    f = len(frames)
    out = ViewDetections(np.full((f, m, 33, 2), np.nan, np.float32), np.zeros((f, m, 33), np.float32),
                         np.full((f, m, 33, 3), np.nan, np.float32), np.full((f, m, 4), np.nan, np.float32),
                         np.zeros((f, m), np.float32), np.array([len(p) for p in frames]), size)
    for i, people in enumerate(frames):
        for j, p in enumerate(people):
            out.keypoints2d[i, j], out.conf[i, j], out.boxes[i, j], out.scores[i, j] = (
                p.keypoints2d, p.keypoint_conf, p.box, p.score)
            if p.world_landmarks is not None:
                out.world[i, j] = p.world_landmarks
    return out


def detector_key() -> str:
    """A short hash of the detector settings that change results (part of the cache file name)."""
    from metahmr_video.detect import DetectorConfig

    settings = dataclasses.asdict(DetectorConfig())
    settings.pop("num_threads")
    blob = json.dumps([CACHE_VERSION, settings], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:8]


def cached_detections(video: Path, cache_dir: Path, progress: bool = True) -> ViewDetections:
    """Detections of `video`, computed once and stored as cache_dir/detections_<stem>_<key>.npz."""
    path = Path(cache_dir) / f"detections_{Path(video).stem}_{detector_key()}.npz"
    if path.is_file():
        return ViewDetections.load(path)
    out = detect_video(Path(video), progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path)
    return out

"""Plain records passed between the stages (sources -> detect -> track -> adapt -> smooth -> sinks).

Conventions: pixel coordinates are full-frame, x to the right, y down, origin at the top-left
corner of the top-left pixel; keypoints follow MediaPipe's 33-landmark pose layout
(``metahmr_video.core.layout.Landmark``); 3D positions are metres in the camera frame (OpenCV: x right,
y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class Frame:
    """One decoded frame.

    index: 0-based position in its source. time_s: presentation time in seconds from the
    source's start (for a camera: seconds since it was opened). image: RGB uint8, H x W x 3,
    already rotated upright when the container carries rotation metadata.
    """

    index: int
    time_s: float
    image: np.ndarray

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass
class Detection:
    """One person in one frame.

    box: float32[4] x0, y0, x1, y1 in pixels. score: confidence in [0, 1].
    keypoints2d: float32[33, 2] pixels (MediaPipe pose layout).
    keypoint_conf: float32[33] in [0, 1] (visibility * presence; 0 = not observed).
    visibility, presence: float32[33] the landmark model's own probabilities (in view and not
    occluded; inside the image), or None when the backend gives none.
    world_landmarks: float32[33, 3] metres in MediaPipe's hip-centred metric frame
    (x right, y down, z away from the camera), or None when the backend has none.
    source: which person-box source produced it ("track", "blazepose", "hog", "segmentation",
    "precomputed").
    roi: float32[4] (cx, cy, side in pixels, rotation in radians) of the aligned square crop to
    use for this person in the next frame, or None.
    """

    box: np.ndarray
    score: float
    keypoints2d: np.ndarray
    keypoint_conf: np.ndarray
    world_landmarks: Optional[np.ndarray] = None
    source: str = ""
    roi: Optional[np.ndarray] = None
    visibility: Optional[np.ndarray] = None
    presence: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float32).reshape(4)
        self.keypoints2d = np.asarray(self.keypoints2d, dtype=np.float32).reshape(33, 2)
        self.keypoint_conf = np.asarray(self.keypoint_conf, dtype=np.float32).reshape(33)
        if self.world_landmarks is not None:
            self.world_landmarks = np.asarray(self.world_landmarks, dtype=np.float32).reshape(33, 3)
        if self.roi is not None:
            self.roi = np.asarray(self.roi, dtype=np.float32).reshape(4)
        for name in ("visibility", "presence"):
            if getattr(self, name) is not None:
                setattr(self, name, np.asarray(getattr(self, name), dtype=np.float32).reshape(33))
        self.score = float(self.score)


@dataclass
class TrackedPerson:
    """A person with a stable id. predicted=True: not detected in this frame; `detection` then
    holds the tracker's prediction (box and keypoints moved with the track, confidences 0).
    confirmed=False: a tentative track (not yet seen in enough frames in a row; it may be a false
    detection), reported only when asked for (`Tracker.update(..., tentative=True)`)."""

    track_id: int
    detection: Detection
    predicted: bool = False
    age: int = field(default=0)  # frames since the track was born
    confirmed: bool = True


@dataclass
class PersonBody:
    """One tracked person's body in one frame. Positions in metres, camera frame (OpenCV: x right,
    y down, z forward); image quantities in full-frame pixels.

    pose: [J, 3, 3] body-model rotations (Anny: local-ref per bone, 0 = global orientation).
    shape: [S] body-model shape (Anny: phenotypes in [0, 1]; SMPL: betas).
    transl: [3] Anny: pelvis position. joints: [J, 3]. keypoints3d: [33, 3] MediaPipe order.
    keypoints2d / keypoint_conf: [33, 2] / [33] the detector's evidence. box: [4] xyxy pixels.
    reproj_error: mean confidence-weighted pixel distance of projected keypoints to the evidence.
    fallback: adaptation diverged (NaN/inf) and the un-adapted prediction is reported.
    vertices: [V, 3] or None. world_landmarks: [33, 3] the detection's MediaPipe world landmarks
    (metres, MediaPipe's hip-centred frame) or None.
    """

    track_id: int
    frame_index: int
    time_s: float
    pose: np.ndarray
    shape: np.ndarray
    transl: np.ndarray
    joints: np.ndarray
    keypoints3d: np.ndarray
    keypoints2d: np.ndarray
    keypoint_conf: np.ndarray
    box: np.ndarray
    reproj_error: float
    fallback: bool = False
    vertices: np.ndarray | None = None
    world_landmarks: np.ndarray | None = None

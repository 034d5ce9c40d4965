"""MediaPipe's own definitions of a few landmarks, learned per track from its world landmarks.

A body model's hip and shoulder landmarks are its joint centres; MediaPipe places its hip and
shoulder landmarks elsewhere on a person (measured on real footage: its hips 1-4 cm lower, its
shoulders 2-4 cm higher and 2-5 cm further back, docs/experiments.md E36). So that the
reported 33 landmarks (`PersonBody.keypoints3d`) mean what MediaPipe's names mean, each track keeps
the running mean, over its frames, of where MediaPipe's world landmarks put those landmarks relative
to the fitted body (in the body's own frame), and adds it to the body's landmarks. The body (pose,
shape, mesh, `joints`) is not changed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from metahmr_video.core.layout import Landmark
from metahmr_video.model.losses import rotation_onto
from metahmr_video.core.records import PersonBody

# Joint centres in MediaPipe's definitions and the body model's alike: MediaPipe's world landmarks are
# aligned onto the body on these (the torso's landmarks, whose definitions differ, would bend the alignment).
ALIGN = [Landmark.LEFT_ELBOW, Landmark.RIGHT_ELBOW, Landmark.LEFT_WRIST, Landmark.RIGHT_WRIST,
         Landmark.LEFT_KNEE, Landmark.RIGHT_KNEE, Landmark.LEFT_ANKLE, Landmark.RIGHT_ANKLE]


@dataclass(frozen=True)
class DefinitionsConfig:
    """landmarks: the MediaPipe landmark names whose definition is taken from MediaPipe (empty:
    off); min_conf: a frame updates a landmark's offset only where the detector saw it with at
    least this confidence (a landmark outside the image is MediaPipe's guess); forget_after_s: a
    track unseen for longer starts again (memory stays flat on long streams)."""

    landmarks: list[str] = field(default_factory=lambda: ["left_shoulder", "right_shoulder", "left_hip", "right_hip"])
    min_conf: float = 0.5
    forget_after_s: float = 60.0


def body_frames(keypoints: np.ndarray) -> np.ndarray:
    """[N,33,3] landmarks (metres) -> [N,3,3] rotations whose columns are the body's axes in the
    landmarks' frame: x from the right hip to the left, y up the spine (mid-hip to mid-shoulder,
    made orthogonal to x), z = x cross y (forward, the way the body faces)."""
    k = np.asarray(keypoints, np.float64)
    x = k[:, Landmark.LEFT_HIP] - k[:, Landmark.RIGHT_HIP]
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = (k[:, Landmark.LEFT_SHOULDER] + k[:, Landmark.RIGHT_SHOULDER] - k[:, Landmark.LEFT_HIP] - k[:, Landmark.RIGHT_HIP]) / 2
    y -= (y * x).sum(-1, keepdims=True) * x
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    return np.stack([x, y, np.cross(x, y)], -1)


def world_offsets(keypoints: np.ndarray, world: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
    """Where MediaPipe's world landmarks `world` [N,33,3] put each landmark relative to the body's
    `keypoints` [N,33,3]: `world` similarity-aligned onto `keypoints` on the elbows, wrists, knees
    and ankles (`ALIGN`), minus `keypoints`, in the body's frame (`frames` [N,3,3], default
    `body_frames(keypoints)`); [N,33,3] metres."""
    kp = torch.as_tensor(np.asarray(keypoints), dtype=torch.float64)
    w = torch.as_tensor(np.asarray(world), dtype=torch.float64)
    a_mean, b_mean = w[:, ALIGN].mean(1, keepdim=True), kp[:, ALIGN].mean(1, keepdim=True)
    a, b = w[:, ALIGN] - a_mean, kp[:, ALIGN] - b_mean
    R = rotation_onto(a, b, torch.ones(a.shape[:2], dtype=a.dtype))
    scale = (b * (a @ R.transpose(1, 2))).sum((1, 2)) / (a ** 2).sum((1, 2)).clamp(min=1e-12)
    aligned = scale[:, None, None] * (w - a_mean) @ R.transpose(1, 2) + b_mean
    frames = body_frames(keypoints) if frames is None else frames
    return (frames.transpose(0, 2, 1)[:, None] @ (aligned - kp).numpy()[..., None])[..., 0]


class LandmarkDefinitions:
    """Per track, the running mean of `world_offsets` of the configured landmarks (frames where
    the detector saw them, bodies that did not fall back), added to `keypoints3d` in the body's
    current frame. Call it on posed people (after the `BodyPoser`), in frame order.

    >>> definitions = LandmarkDefinitions()
    >>> people = definitions(poser(smoother(adapter(frame, tracked))))
    """

    def __init__(self, config: DefinitionsConfig | None = None) -> None:
        self.config = config or DefinitionsConfig()
        self.index = np.array([Landmark[n.upper()] for n in self.config.landmarks], dtype=int)
        # track id -> (sum of offsets [L,3] metres, body frame; frames counted [L]; last time seen, s)
        self.tracks: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}

    def reset(self) -> None:
        """Forget every track (next video)."""
        self.tracks.clear()

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]:
        if not len(self.index):
            return people
        if people:
            now = max(p.time_s for p in people)
            self.tracks = {k: v for k, v in self.tracks.items() if now - v[2] <= self.config.forget_after_s}
        posed = [p for p in people if np.isfinite(p.keypoints3d).all()]
        if not posed:
            return people
        keypoints = np.stack([p.keypoints3d for p in posed]).astype(np.float64)
        frames = body_frames(keypoints)
        has_world = np.array([p.world_landmarks is not None and np.isfinite(p.world_landmarks).all() for p in posed])
        if has_world.any():
            seen_by = [p for p, w in zip(posed, has_world) if w]
            off = world_offsets(keypoints[has_world], np.stack([p.world_landmarks for p in seen_by]), frames[has_world])
            for p, o in zip(seen_by, off[:, self.index]):
                seen = (np.asarray(p.keypoint_conf)[self.index] >= self.config.min_conf) & np.isfinite(o).all(-1)
                seen &= not p.fallback
                total, count, _ = self.tracks.get(p.track_id, (np.zeros((len(self.index), 3)), np.zeros(len(self.index)), 0.0))
                self.tracks[p.track_id] = (total + np.where(seen[:, None], o, 0.0), count + seen, p.time_s)
        axes_of = dict(zip((p.track_id for p in posed), frames))  # one person per track in a frame
        out = []
        for p in people:
            total, count, _ = self.tracks.get(p.track_id, (None, None, None))
            axes = axes_of.get(p.track_id)
            if total is None or not count.any() or axes is None or not np.isfinite(axes).all():
                out.append(p)
                continue
            moved = p.keypoints3d.astype(np.float64)
            moved[self.index] += (total / np.maximum(count, 1)[:, None]) @ axes.T
            out.append(dataclasses.replace(p, keypoints3d=moved.astype(np.float32)))
        return out

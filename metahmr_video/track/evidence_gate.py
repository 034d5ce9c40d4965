"""No track that is not a person: a track is reported only while its fitted body explains its own
2D evidence. A detection on something that is not a person (a skeleton model, a ceiling camera, a
limb of someone already tracked) gives landmarks that no body can reproduce; the fitted body then
leaves a large part of its box unexplained, where a real person's leaves 2-4 % (docs/perception.md).

Residual of a body in a frame: its mean confidence-weighted reprojection error (pixels) over the
person's size (`residual`), about the 2D term of `adapt.landmark_fit.evidence_residual`."""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from metahmr_video.core.records import PersonBody

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvidenceConfig:
    """enabled: False reports every confirmed track. A track is confirmed when the median residual
    of its first `frames` adapted frames is at most `max_residual` (fractions of the box side) and
    never reported when it is above (before its `frames`-th frame, the median of those it has
    decides); a confirmed track is dropped for good once the median over its last `window` adapted
    frames exceeds `drop_residual`. The values are for fitted bodies (real people: first frames
    0.017-0.037, the worst 15-frame stretch of a half-hidden walker 0.10; ghosts 0.053-0.18, E42):
    with `adapt.steps` 0 the network's unfitted bodies leave more unexplained and `run` turns the
    gate off."""

    enabled: bool = True
    frames: int = 3
    max_residual: float = 0.045
    window: int = 15
    drop_residual: float = 0.15


def residual(person: PersonBody) -> float:
    """Reprojection error over the person's size: the longer side of their box or of the extent of
    their 2D landmarks, whichever is larger (the landmark model places the parts of someone cut by
    the frame outside the image, where the box does not reach, and the fit explains those too);
    nan when not finite."""
    b = np.asarray(person.box, float)
    kp = np.asarray(person.keypoints2d, float)
    extent = np.nanmax(kp, 0) - np.nanmin(kp, 0) if np.isfinite(kp).any() else np.zeros(2)
    side = max(b[2] - b[0], b[3] - b[1], float(np.max(extent)), 1.0)
    return float(person.reproj_error) / side


class EvidenceGate:
    """Per-track verdicts from the residuals of its adapted bodies, in frame order:
    `observe(people)` after adaptation, `shown(track_id)` when a frame's people are released."""

    def __init__(self, config: EvidenceConfig | None = None) -> None:
        self.config = config or EvidenceConfig()
        self.reset()

    def reset(self) -> None:
        self._first: dict[int, list[float]] = {}
        self._recent: dict[int, deque[float]] = {}
        self._rejected: set[int] = set()

    def observe(self, people: list[PersonBody]) -> None:
        """Record one frame's adapted people (a fallback body counts as unexplained)."""
        c = self.config
        if not c.enabled:
            return
        for p in people:
            tid = p.track_id
            if tid in self._rejected:
                continue
            r = residual(p)
            r = r if np.isfinite(r) and not p.fallback else np.inf
            first = self._first.setdefault(tid, [])
            recent = self._recent.setdefault(tid, deque(maxlen=c.window))
            recent.append(r)
            if len(first) < c.frames:
                first.append(r)
                if len(first) == c.frames and np.median(first) > c.max_residual:
                    self._reject(tid, p.frame_index, f"median residual {np.median(first):.3f} of its first "
                                                     f"{c.frames} frames > {c.max_residual}: never confirmed")
            elif len(recent) == c.window and np.median(recent) > c.drop_residual:
                self._reject(tid, p.frame_index, f"median residual {np.median(recent):.3f} over its last "
                                                 f"{c.window} frames > {c.drop_residual}: dropped")

    def _reject(self, track_id: int, frame: int, reason: str) -> None:
        self._rejected.add(track_id)
        log.debug("track %d at frame %d: its body does not explain its 2D evidence (%s)", track_id, frame, reason)

    def shown(self, track_id: int) -> bool:
        """Whether the track's people may be reported now (see `EvidenceConfig`)."""
        if not self.config.enabled:
            return True
        if track_id in self._rejected:
            return False
        first = self._first.get(track_id)
        return not first or len(first) >= self.config.frames or float(np.median(first)) <= self.config.max_residual

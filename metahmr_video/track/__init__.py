"""Tracking: stable person ids across frames (filterpy Kalman filters + Hungarian matching).

    from metahmr_video.track import Tracker, track
    for frame, people in track(frames, detector):      # people: list[TrackedPerson]
        ...
"""

from __future__ import annotations

from typing import Iterable, Iterator, List, Optional, Tuple

from metahmr_video.records import Frame, TrackedPerson
from metahmr_video.track.tracker import Tracker, appearance, bone_lengths, keypoint_similarity

__all__ = ["Tracker", "track", "appearance", "bone_lengths", "keypoint_similarity"]


def track(frames: Iterable[Frame], detector, tracker: Optional[Tracker] = None,
          full_every: Optional[int] = None) -> Iterator[Tuple[Frame, List[TrackedPerson]]]:
    """Detect and track along a stream. The tracker's predictions are the detector's crops for the
    next frame (BlazePose-style re-cropping); the full-frame detectors run every `full_every`
    frames (default: the detector's own setting). `detector` is a MultiPersonDetector or anything
    with `detect(image, hints)`; a PrecomputedKeypoints is looked up by frame index."""
    tracker = tracker or Tracker()
    tracker.reset()
    if hasattr(detector, "reset"):
        detector.reset()
    every = full_every or getattr(detector, "full_every", 1)
    for frame in frames:
        if hasattr(detector, "for_frame"):
            people = detector.for_frame(frame.index)
        else:
            hints = tracker.predictions()
            full = (frame.index % every == 0) or not hints
            people = detector.detect(frame.image, hints=hints, full=full)
        yield frame, tracker.update(people, frame.image)

"""Tracking: stable person ids across frames (filterpy Kalman filters + Hungarian matching).

    from metahmr_video.track import Tracker, TrackerConfig
    people = tracker.update(detections, frame.image)      # list[TrackedPerson]
"""

from metahmr_video.track.evidence_gate import EvidenceConfig, EvidenceGate
from metahmr_video.track.tracker import Tracker, TrackerConfig, appearance, bone_lengths, keypoint_similarity

__all__ = ["EvidenceConfig", "EvidenceGate", "Tracker", "TrackerConfig", "appearance", "bone_lengths",
           "keypoint_similarity"]

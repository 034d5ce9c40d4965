"""Keypoint layouts shared by every body model and detector.

MEDIAPIPE_33 is MediaPipe Pose's landmark order; COCO_17 is the COCO keypoint order, given as
indices into MEDIAPIPE_33. STANDARD_JOINTS are the named 3D joints every body model reports
(`BodyModel.standard_joint_indices`), used for evaluation and by the fitting API.
"""
from __future__ import annotations

MEDIAPIPE_33: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)

COCO_17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)

COCO_FROM_MEDIAPIPE: tuple[int, ...] = tuple(MEDIAPIPE_33.index(n) for n in COCO_17)

STANDARD_JOINTS: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "neck", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist",
)


def mirror_index(names: tuple[str, ...]) -> list[int]:
    """For each name, the index of its left/right mirror in `names` (itself when unpaired)."""
    def swap(n: str) -> str:
        if "left" in n:
            return n.replace("left", "right")
        if "right" in n:
            return n.replace("right", "left")
        return n
    return [names.index(swap(n)) for n in names]

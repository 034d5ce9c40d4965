"""Keypoint layouts shared by every body model and detector.

`Landmark` names MediaPipe Pose's landmark indices, MEDIAPIPE_33 their names in order; COCO_17 is
the COCO keypoint order, given as indices into MEDIAPIPE_33. STANDARD_JOINTS are the named 3D joints every body model reports
(`BodyModel.standard_joint_indices`), used for evaluation and by the fitting API.
"""
from __future__ import annotations

from enum import IntEnum


class Landmark(IntEnum):
    """MediaPipe Pose's 33 landmarks by name (as `mediapipe.solutions.pose.PoseLandmark`)."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


MEDIAPIPE_33: tuple[str, ...] = tuple(m.name.lower() for m in Landmark)

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

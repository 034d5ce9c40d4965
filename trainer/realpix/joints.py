"""MediaPipe-33 landmarks -> the 15 standard joints (metahmr_video.core.layout.STANDARD_JOINTS).

Twelve joints are landmarks themselves (hips, knees, ankles, shoulders, elbows, wrists; in Anny
they are the same bone heads as its standard joints). The other three are combinations:
pelvis = midpoint of the hips, neck = midpoint of the shoulders, head = midpoint of the ears.
Anny's own pelvis/neck/head (the Hips, Neck and Head bone heads) sit elsewhere (the pelvis above
the hip line, the neck above the shoulder line, the head joint at the skull base); the
real-pixel evaluation therefore maps every method's 33 landmarks through this one rule, and
reports Anny's own joints separately (see docs/realpix.md).
"""
from __future__ import annotations

import numpy as np

from metahmr_video.core.layout import MEDIAPIPE_33, STANDARD_JOINTS

_I = {n: i for i, n in enumerate(MEDIAPIPE_33)}
_PAIRS = {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder"),
          "head": ("left_ear", "right_ear")}
# STANDARD_JOINTS order: (index a, index b) averaged (a == b for a landmark itself).
MAPPING: tuple[tuple[int, int], ...] = tuple(
    (_I[_PAIRS[n][0]], _I[_PAIRS[n][1]]) if n in _PAIRS else (_I[n], _I[n]) for n in STANDARD_JOINTS)


def standard_from_landmarks(landmarks):
    """[..., 33, 3] landmarks (numpy or torch) -> [..., 15, 3] standard joints, same units/frame."""
    a = [m[0] for m in MAPPING]
    b = [m[1] for m in MAPPING]
    return 0.5 * (landmarks[..., a, :] + landmarks[..., b, :])


def standard_conf(conf: np.ndarray) -> np.ndarray:
    """[..., 33] per-landmark confidences -> [..., 15]: the lower of the two landmarks combined."""
    a = [m[0] for m in MAPPING]
    b = [m[1] for m in MAPPING]
    return np.minimum(conf[..., a], conf[..., b])

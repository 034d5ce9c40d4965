"""Body models: `AnnyBody` (default, ships with its data) and `SmplBody` (user-supplied SMPL/SMPL-X)."""
from __future__ import annotations

from pathlib import Path

from metahmr_video.core.quiet import init_warp_quietly

init_warp_quietly()  # before anny uses it: no banner, no CUDA-driver warning on CPU machines

from metahmr_video.body.anny_body import AnnyBody
from metahmr_video.core.layout import COCO_17, COCO_FROM_MEDIAPIPE, MEDIAPIPE_33, STANDARD_JOINTS
from metahmr_video.body.output import BodyOutput
from metahmr_video.body.smpl_body import SmplBody

__all__ = ["AnnyBody", "SmplBody", "BodyOutput", "load_body", "MEDIAPIPE_33", "COCO_17",
           "COCO_FROM_MEDIAPIPE", "STANDARD_JOINTS"]


def load_body(spec: str = "anny") -> AnnyBody | SmplBody:
    """'anny' (default fitting mesh), 'anny-full' (full mesh), or a path to an SMPL/SMPL-X file."""
    if spec == "anny":
        return AnnyBody()
    if spec == "anny-full":
        from metahmr_video.body.anny_body import FULL_TOPOLOGY
        return AnnyBody(topology=FULL_TOPOLOGY)
    return SmplBody(Path(spec))

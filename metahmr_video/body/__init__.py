"""Body models: `AnnyBody` (default, ships with its data) and `SmplBody` (user-supplied SMPL/SMPL-X),
both `BodyModel`s. `FAMILIES` lists them: a new family is its module plus one entry there."""
from __future__ import annotations

from pathlib import Path

from metahmr_video.core.quiet import init_warp_quietly

init_warp_quietly()  # before anny uses it: no banner, no CUDA-driver warning on CPU machines

from metahmr_video.body.anny_body import AnnyBody
from metahmr_video.body.base import BodyModel, RestSkeleton
from metahmr_video.core.errors import InputError
from metahmr_video.core.layout import COCO_17, COCO_FROM_MEDIAPIPE, MEDIAPIPE_33, STANDARD_JOINTS
from metahmr_video.body.output import BodyOutput
from metahmr_video.body.smpl_body import SmplBody

__all__ = ["AnnyBody", "SmplBody", "BodyModel", "BodyOutput", "RestSkeleton", "FAMILIES", "body_family",
           "load_body", "MEDIAPIPE_33", "COCO_17", "COCO_FROM_MEDIAPIPE", "STANDARD_JOINTS"]

FAMILIES: tuple[type[BodyModel], ...] = (AnnyBody, SmplBody)


def body_family(name: str) -> type[BodyModel]:
    """The family a results file's meta["body_model"] names; InputError (one line) for unknown names."""
    for family in FAMILIES:
        if name in family.stored_names:
            return family
    known = ", ".join(n for family in FAMILIES for n in family.stored_names)
    raise InputError(f"unknown body model {name!r} (known: {known})")


def load_body(spec: str = "anny") -> AnnyBody | SmplBody:
    """'anny' (default fitting mesh), 'anny-full' (full mesh), or a path to an SMPL/SMPL-X file."""
    if spec == "anny":
        return AnnyBody()
    if spec == "anny-full":
        from metahmr_video.body.anny_body import FULL_TOPOLOGY
        return AnnyBody(topology=FULL_TOPOLOGY)
    return SmplBody(Path(spec))

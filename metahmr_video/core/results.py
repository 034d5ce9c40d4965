"""Loading the per-video NPZ results written by `NpzSink` back into plain structures."""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metahmr_video.core.errors import InputError

FORMAT = "metahmr-video/1"
# Per-frame arrays of a track: NPZ key (= TrackResult field) -> PersonBody attribute. Pose and shape
# are stored under the body family's own keys (`metahmr_video.body.BodyModel.encode`).
PER_FRAME_KEYS = {"frame_ids": "frame_index", "time_s": "time_s", "transl": "transl", "joints": "joints",
                  "keypoints3d": "keypoints3d", "keypoints2d": "keypoints2d", "keypoint_conf": "keypoint_conf",
                  "boxes": "box", "reproj_error": "reproj_error", "fallback": "fallback"}
# Per-frame arrays in the world (`metahmr_video.world`), present when the run found a ground.
WORLD_KEYS = ("joints_world", "keypoints_world", "transl_world", "pose_world", "contacts", "world_scale")


@dataclass
class TrackResult:
    """One person's sequence. Per-frame arrays share their first axis with `frame_ids`.

    pose [T, J, 3, 3] rotations and shape [T, S] are generic; `params` holds the body model's own
    keys (SMPL: global_orient, body_pose, betas axis-angle; Anny: bone_rotations, phenotypes).
    transl/joints/keypoints3d in metres (camera frame); keypoints2d/boxes in pixels. When the run
    found a ground (meta "camera_to_world"): joints_world [T,J,3], keypoints_world [T,33,3] and
    transl_world [T,3] metres in the world (Y up, ground at y = 0, feet in contact planted and held),
    pose_world [T,J,3,3] (`pose` with the legs of held feet bent, the root's rotation in the world;
    absent in files older than E71: the whole body was shifted), contacts [T,2] (left, right foot
    on the ground) and world_scale [T] (the planting scaled the body and its distance by this
    about the camera: its image is unchanged; `metahmr_video.world.planting_scale`); else None. `joints` are the
    body model's for the stored parameters; `keypoints3d` MediaPipe's 33 landmarks on that body, the
    hips and shoulders where MediaPipe defines them (`metahmr_video.smooth.LandmarkDefinitions`).
    """

    track_id: int
    frame_ids: np.ndarray
    time_s: np.ndarray
    pose: np.ndarray
    shape: np.ndarray
    transl: np.ndarray
    joints: np.ndarray
    keypoints3d: np.ndarray
    keypoints2d: np.ndarray
    keypoint_conf: np.ndarray
    boxes: np.ndarray
    reproj_error: np.ndarray
    fallback: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    vertices: np.ndarray | None = None
    joints_world: np.ndarray | None = None
    keypoints_world: np.ndarray | None = None
    transl_world: np.ndarray | None = None
    pose_world: np.ndarray | None = None
    contacts: np.ndarray | None = None
    world_scale: np.ndarray | None = None


@dataclass
class Results:
    """A video's results: `meta` (body model, joint names, fps, image size, intrinsics, and with a
    world `camera_to_world` [4,4] and `world` {height_m, pitch_deg, roll_deg, ...}) and tracks by id."""

    meta: dict
    tracks: dict[int, TrackResult]


def load_results(path: str | Path) -> Results:
    """Read a results NPZ; raises InputError with one line when the file is missing or not ours."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: results file not found")
    try:
        npz = np.load(path, allow_pickle=False)
        files = set(npz.files)
    except (OSError, ValueError, zipfile.BadZipFile):
        raise InputError(f"{path}: not an NPZ file") from None
    if "meta" not in files or "track_ids" not in files:
        raise InputError(f"{path}: not a metahmr-video results file (no 'meta'/'track_ids')")
    from metahmr_video.body import body_family  # the body package imports torch: only when loading

    meta = json.loads(str(npz["meta"]))
    family = body_family(meta.get("body_model", "anny"))
    tracks = {}
    for tid in npz["track_ids"].tolist():
        p = f"track_{tid}/"
        try:
            params = {k: npz[p + k] for k in family.param_keys}
            pose, shape = family.decode(params)
            tracks[tid] = TrackResult(
                track_id=tid, pose=pose, shape=shape, params=params, **{k: npz[p + k] for k in PER_FRAME_KEYS},
                vertices=npz[p + "vertices"].astype(np.float32) if p + "vertices" in files else None,
                **{k: npz[p + k] for k in WORLD_KEYS if p + k in files})
        except KeyError as exc:
            raise InputError(f"{path}: track {tid} lacks {exc.args[0]!r}; not a complete metahmr-video results file") from None
    return Results(meta=meta, tracks=tracks)

"""Per-video NPZ results, written incrementally so that an interruption keeps every processed frame."""
from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from metahmr_video.body import body_family
from metahmr_video.core.paths import writable_folder
from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.results import FORMAT, PER_FRAME_KEYS
from metahmr_video.world import WorldEstimator, leg_chains, track_in_world


class NpzSink:
    """Collects PersonBody records per track and writes `path` (atomically: temp file + rename)
    every `flush_every_s` seconds of wall time (uncompressed: a rewrite of everything so far, kept
    cheap) and, compressed, on `close()`.

    meta: JSON-serialisable facts about the run (body model name, joint names, fps, image size,
    intrinsics, source path...). It must hold "body_model": pose and shape are stored under that
    family's own keys (`BodyModel.encode`).

    world: a `WorldEstimator` fed every frame; each write of the file then adds the world so far
    (meta "camera_to_world" [4,4], meta "world") and every track's `contacts`, `joints_world`,
    `keypoints_world`, `transl_world`, `world_scale` and (meta with "joint_names" and "parents")
    `pose_world` (`metahmr_video.world.track_in_world`), when it has one.
    """

    def __init__(self, path: str | Path, meta: dict, flush_every_s: float = 5.0,
                 keep_vertices: bool = False, world: WorldEstimator | None = None) -> None:
        self.path = Path(path)
        writable_folder(self.path.parent)
        self.family = body_family(meta["body_model"])
        self.meta = dict(meta, format=FORMAT)
        self.flush_every_s = flush_every_s
        self.keep_vertices = keep_vertices
        self.tracks: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.frames_seen = 0
        self.world = world
        self._last_flush = time.monotonic()
        self._parents = list(meta.get("parents") or [])  # with the legs, held feet bend them (`track_in_world`)
        self._legs = leg_chains(meta.get("joint_names") or [], self.family.leg_joints) if self._parents else None

    def write(self, frame: Frame, people: list[PersonBody]) -> None:
        """Add one frame's people (possibly none)."""
        self.frames_seen = max(self.frames_seen, frame.index + 1)
        if self.world is not None:
            self.world.observe(frame, people)
        for p in people:
            t = self.tracks[p.track_id]
            for key, attr in (*PER_FRAME_KEYS.items(), ("pose", "pose"), ("shape", "shape")):
                t[key].append(getattr(p, attr))
            if self.keep_vertices and p.vertices is not None:
                t["vertices"].append(p.vertices.astype(np.float16))
        if time.monotonic() - self._last_flush > self.flush_every_s:
            self.flush(compress=False)

    def flush(self, compress: bool = True) -> None:
        """Write everything collected so far to `path` (a valid, loadable file)."""
        arrays: dict[str, np.ndarray] = {}
        ids = sorted(self.tracks)
        world = self.world.estimate() if self.world is not None else None
        meta = dict(self.meta, num_frames=self.frames_seen)
        if world is not None:
            meta.update(camera_to_world=world.camera_to_world.round(6).tolist(), world=self.world.info(world))
        for tid in ids:
            t = self.tracks[tid]
            prefix = f"track_{tid}/"
            for key in PER_FRAME_KEYS:
                arrays[prefix + key] = np.asarray(t[key])
            for key, value in self.family.encode(np.stack(t["pose"]), np.stack(t["shape"])).items():
                arrays[prefix + key] = value
            if t.get("vertices"):
                arrays[prefix + "vertices"] = np.stack(t["vertices"])
            if world is not None:
                pose = np.stack(t["pose"])
                in_world = track_in_world(world, *(arrays[prefix + k] for k in ("time_s", "keypoints3d", "keypoints2d",
                                                                                  "boxes", "joints", "transl")),
                                          pose=pose, parents=self._parents[:pose.shape[1]] or None, legs=self._legs,
                                          config=self.world.config)
                arrays.update({prefix + k: v for k, v in in_world.items()})
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        (np.savez_compressed if compress else np.savez)(tmp, meta=np.array(json.dumps(meta)),
                                                         track_ids=np.asarray(ids, dtype=np.int64), **arrays)
        os.replace(tmp, self.path)
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.flush()

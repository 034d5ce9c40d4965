"""Per-frame adaptation: every detected person of a frame gets K test-time optimisation steps from
the meta-parameters, all of them in one batched computation (see `metahmr_video.fit`)."""
from __future__ import annotations

import numpy as np
import torch

from typing import TYPE_CHECKING

from metahmr_video.records import PersonBody
from metahmr_video.records import Frame, TrackedPerson

if TYPE_CHECKING:
    from metahmr_video.fit import Fitter


class Adapter:
    """Turns a frame's tracked people into bodies.

    Only people detected in this frame are adapted (tracker-predicted ones have no evidence and
    leave a gap rather than an invented body). Each person starts from the meta-parameters, never
    from the previous frame's adapted weights (as in the paper). `steps` None = the checkpoint's
    default K; at most `max_batch` people share one batched computation. With `temporal_prior` > 0,
    a track's body in its previous frame (if at most `prior_max_gap_s` old) enters the test loss as
    a prior on pose and shape with that weight (see `Fitter.fit`).

    >>> adapter = Adapter(Fitter.load(), steps=5)
    >>> bodies = adapter(frame, tracked_people)          # list[PersonBody]
    """

    def __init__(self, fitter: "Fitter", steps: int | None = None, max_batch: int = 32, focal: float | None = None,
                 temporal_prior: float = 0.0, prior_max_gap_s: float = 0.25) -> None:
        self.fitter, self.steps, self.max_batch, self.focal = fitter, steps, max(1, int(max_batch)), focal
        self.temporal_prior, self.prior_max_gap_s = float(temporal_prior), prior_max_gap_s
        self.last: dict[int, PersonBody] = {}

    def reset(self) -> None:
        """Forget the per-track previous bodies (next video)."""
        self.last.clear()

    def __call__(self, frame: Frame, people: list[TrackedPerson]) -> list[PersonBody]:
        people = [p for p in people if not p.predicted]
        # Previous bodies too old to serve as a prior are dropped (memory stays flat on long streams).
        self.last = {k: b for k, b in self.last.items() if frame.time_s - b.time_s <= self.prior_max_gap_s}
        out: list[PersonBody] = []
        for start in range(0, len(people), self.max_batch):
            out += self._adapt(frame, people[start:start + self.max_batch])
        return out

    def _adapt(self, frame: Frame, people: list[TrackedPerson]) -> list[PersonBody]:
        if not people:
            return []
        dets = [p.detection for p in people]
        kp = np.stack([d.keypoints2d for d in dets])
        conf = np.stack([d.keypoint_conf for d in dets])
        world = None
        if all(d.world_landmarks is not None for d in dets):
            world = np.stack([d.world_landmarks for d in dets])
        boxes = np.stack([d.box for d in dets])
        prior = None
        if self.temporal_prior > 0:
            prev = [self.last.get(p.track_id) for p in people]
            has = np.array([q is not None and 0 < frame.time_s - q.time_s <= self.prior_max_gap_s for q in prev])
            nb, ns = self.fitter.body.num_bones, self.fitter.body.num_shape
            prior = (np.stack([q.pose if h else np.eye(3, dtype=np.float32)[None].repeat(nb, 0) for q, h in zip(prev, has)]),
                     np.stack([q.shape if h else np.full(ns, 0.5, np.float32) for q, h in zip(prev, has)]), has)
        res = self.fitter.fit(kp, conf, world, boxes, (frame.width, frame.height), focal=self.focal, steps=self.steps,
                              prior=prior, prior_weight=self.temporal_prior)
        arrays = {k: getattr(res, k).detach().cpu().numpy() for k in
                  ("pose", "shape", "transl", "joints", "keypoints3d", "reproj_error", "fallback")}
        bodies = [PersonBody(track_id=p.track_id, frame_index=frame.index, time_s=frame.time_s,
                           pose=arrays["pose"][i], shape=arrays["shape"][i], transl=arrays["transl"][i],
                           joints=arrays["joints"][i], keypoints3d=arrays["keypoints3d"][i],
                           keypoints2d=dets[i].keypoints2d, keypoint_conf=dets[i].keypoint_conf, box=dets[i].box,
                             reproj_error=float(arrays["reproj_error"][i]), fallback=bool(arrays["fallback"][i]))
                  for i, p in enumerate(people)]
        for b in bodies:
            if not b.fallback:
                self.last[b.track_id] = b
        return bodies


def attach_vertices(body: torch.nn.Module, people: list[PersonBody]) -> list[PersonBody]:
    """Set `vertices` (metres, camera frame) of each person from its (smoothed) pose, shape and
    translation, in one batched body-model call."""
    if not people:
        return people
    device = next(iter(body.buffers())).device
    pose = torch.from_numpy(np.stack([p.pose for p in people])).to(device)
    shape = torch.from_numpy(np.stack([p.shape for p in people])).to(device)
    transl = torch.from_numpy(np.stack([p.transl for p in people])).to(device)
    with torch.no_grad():
        verts = body(pose, shape, transl).vertices.cpu().numpy()
    for p, v in zip(people, verts):
        p.vertices = v
    return people

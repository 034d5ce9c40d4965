"""Per-frame adaptation: every detected person of a frame gets K test-time optimisation steps from
the meta-parameters, all of them in one batched computation (see `metahmr_video.fit`)."""
from __future__ import annotations

import numpy as np
import torch

from typing import TYPE_CHECKING

from metahmr_video.adapt.records import PersonBody
from metahmr_video.records import Frame, TrackedPerson

if TYPE_CHECKING:
    from metahmr_video.fit import Fitter


class Adapter:
    """Turns a frame's tracked people into bodies.

    Only people detected in this frame are adapted (tracker-predicted ones have no evidence and
    leave a gap rather than an invented body). Each person starts from the meta-parameters, never
    from the previous frame's adapted weights (as in the paper). `steps` None = the checkpoint's
    default K; at most `max_batch` people share one batched computation.

    >>> adapter = Adapter(Fitter.load(), steps=5)
    >>> bodies = adapter(frame, tracked_people)          # list[PersonBody]
    """

    def __init__(self, fitter: "Fitter", steps: int | None = None, max_batch: int = 32, focal: float | None = None) -> None:
        self.fitter, self.steps, self.max_batch, self.focal = fitter, steps, max(1, int(max_batch)), focal

    def __call__(self, frame: Frame, people: list[TrackedPerson]) -> list[PersonBody]:
        people = [p for p in people if not p.predicted]
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
        res = self.fitter.fit(kp, conf, world, boxes, (frame.width, frame.height), focal=self.focal, steps=self.steps)
        arrays = {k: getattr(res, k).detach().cpu().numpy() for k in
                  ("pose", "shape", "transl", "joints", "keypoints3d", "reproj_error", "fallback")}
        return [PersonBody(track_id=p.track_id, frame_index=frame.index, time_s=frame.time_s,
                           pose=arrays["pose"][i], shape=arrays["shape"][i], transl=arrays["transl"][i],
                           joints=arrays["joints"][i], keypoints3d=arrays["keypoints3d"][i],
                           keypoints2d=dets[i].keypoints2d, keypoint_conf=dets[i].keypoint_conf, box=dets[i].box,
                           reproj_error=float(arrays["reproj_error"][i]), fallback=bool(arrays["fallback"][i]))
                for i, p in enumerate(people)]


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

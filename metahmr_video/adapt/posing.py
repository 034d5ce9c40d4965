"""The posing stage: each smoothed person's body model posed for the sinks."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from metahmr_video.core.records import PersonBody


class BodyPoser:
    """New records whose `joints` and `keypoints3d` (and with `vertices` the mesh `vertices`;
    metres, camera frame) are the body model's output for their (smoothed) pose, shape and
    translation, all people of a frame in one batched call: what the results store is exactly the
    body model's output for the stored parameters (for SMPL, what `smplx.create(path)(**params)`
    gives). The records it is given are not changed.

        poser = BodyPoser(fitter.body, vertices=True)
        posed = poser(smoothed_people)
    """

    def __init__(self, body: torch.nn.Module, vertices: bool = False) -> None:
        self.body, self.vertices = body, bool(vertices)

    def __call__(self, people: list[PersonBody]) -> list[PersonBody]:
        if not people:
            return []
        device = next(iter(self.body.buffers())).device
        pose, shape, transl = (torch.from_numpy(np.stack([getattr(p, k) for p in people])).to(device)
                               for k in ("pose", "shape", "transl"))
        with torch.no_grad():
            out = self.body(pose, shape, transl, return_vertices=self.vertices)
        joints, keypoints = out.joints.cpu().numpy(), out.keypoints.cpu().numpy()
        verts = out.vertices.cpu().numpy() if self.vertices else [p.vertices for p in people]
        return [dataclasses.replace(p, joints=j, keypoints3d=k, vertices=v)
                for p, j, k, v in zip(people, joints, keypoints, verts)]

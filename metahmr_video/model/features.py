"""Per-person evidence, the regressor's input features, and decoding its output to body parameters.

Conventions. Camera frame: OpenCV (x right, y down, z forward), metres. Pixels: full frame, origin
top-left. World landmarks: MediaPipe's metric frame, centred at the hip midpoint, axes aligned with
the camera (x right, y down, z away from the camera), metres.

Input feature vector (`feature_dim` = 33*3 + 33 + 1 + 3 = 136):
  world landmarks (33x3, metres; zero where invisible), visibilities (33), missing-world flag (1),
  CLIFF box descriptor ((cx - W/2)/f, (cy - H/2)/f, side/f) (3).
When world landmarks are missing, a flat stand-in is built from the 2D landmarks: the box-normalised
2D positions scaled to 1.7 m / 1.2 box side, z = 0, hip-centred (the network was trained with it).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from metahmr_video.core.camera import crop_cam_to_full_transl, project
from metahmr_video.core.layout import Landmark
from metahmr_video.core.rotations import sixd_to_rotmat

NUM_LANDMARKS = len(Landmark)
FEATURE_DIM = NUM_LANDMARKS * 3 + NUM_LANDMARKS + 1 + 3


@dataclass
class Evidence:
    """What the fitter sees for N people (torch tensors, float32, one device).

    kp2d [N,33,2] pixels; conf [N,33] in [0,1]; world [N,33,3] metres (MediaPipe frame);
    world_vis [N,33] in [0,1]; has_world [N] float 1/0; box_center [N,2] pixels; box_size [N]
    pixels (side of the square box); focal [N] pixels; img_center [N,2] pixels.
    """

    kp2d: torch.Tensor
    conf: torch.Tensor
    world: torch.Tensor
    world_vis: torch.Tensor
    has_world: torch.Tensor
    box_center: torch.Tensor
    box_size: torch.Tensor
    focal: torch.Tensor
    img_center: torch.Tensor

    def __len__(self) -> int:
        return self.kp2d.shape[0]

    def index(self, idx) -> "Evidence":
        return Evidence(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def to(self, device) -> "Evidence":
        return Evidence(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def masked(self, keypoint_mask: torch.Tensor) -> "Evidence":
        """The evidence without the landmarks a body model does not define (mask [33] 0/1, see
        `keypoint_mask`): their confidences and world visibilities become 0."""
        return replace(self, conf=self.conf * keypoint_mask, world_vis=self.world_vis * keypoint_mask)


def flat_world_from_2d(kp2d: torch.Tensor, conf: torch.Tensor, box_size: torch.Tensor) -> torch.Tensor:
    """A flat (z = 0) metric stand-in for missing world landmarks, hip-centred. [N,33,3]."""
    scale = (1.7 / 0.83) / box_size.clamp(min=1.0)  # a body fills ~83% of the (1.2x) box side
    hip = 0.5 * (kp2d[:, Landmark.LEFT_HIP] + kp2d[:, Landmark.RIGHT_HIP])
    xy = (kp2d - hip[:, None]) * scale[:, None, None]
    return torch.cat([xy, torch.zeros_like(xy[..., :1])], dim=-1) * (conf[..., None] > 0)


def features(ev: Evidence) -> torch.Tensor:
    """Evidence -> regressor input [N, FEATURE_DIM]."""
    flat = flat_world_from_2d(ev.kp2d, ev.conf, ev.box_size)
    hw = ev.has_world[:, None, None]
    world = torch.where(hw > 0.5, ev.world, flat)
    vis = torch.where(hw[..., 0] > 0.5, ev.world_vis, ev.conf)
    world = world * (vis[..., None] > 0.05)
    box = torch.cat([(ev.box_center - ev.img_center) / ev.focal[:, None], (ev.box_size / ev.focal)[:, None]], -1)
    return torch.cat([world.reshape(len(ev), -1), vis, 1.0 - ev.has_world[:, None], box], dim=-1)


@dataclass
class BodyParams:
    """Decoded regressor output: pose [N,J,3,3] (bone 0 = global orientation in the camera frame),
    shape [N,S] (the body's shape_center + offset, clamped to its shape_bounds: Anny phenotypes in
    [0,1], SMPL betas), transl [N,3] the body model's translation in the camera frame (metres; Anny:
    the pelvis, SMPL: smplx's transl), crop_cam [N,3] CLIFF (s, tx, ty)."""

    pose: torch.Tensor
    shape: torch.Tensor
    transl: torch.Tensor
    crop_cam: torch.Tensor


def decode(theta: torch.Tensor, ev: Evidence, body) -> BodyParams:
    """theta [N, P] -> body parameters of `body` (its num_bones, num_shape, shape_center, shape_bounds)."""
    n, num_bones, num_shape = theta.shape[0], body.num_bones, body.num_shape
    pose = sixd_to_rotmat(theta[:, : num_bones * 6].reshape(n, num_bones, 6))
    shape = (body.shape_center + theta[:, num_bones * 6: num_bones * 6 + num_shape]).clamp(*body.shape_bounds)
    cam = theta[:, -3:]
    cam = torch.cat([cam[:, :1].abs() + 1e-3, cam[:, 1:]], dim=-1)  # keep the scale positive
    transl = crop_cam_to_full_transl(cam, ev.box_center, ev.box_size, ev.focal, ev.img_center)
    return BodyParams(pose=pose, shape=shape, transl=transl, crop_cam=cam)


def project_points(points: torch.Tensor, ev: Evidence) -> torch.Tensor:
    """Camera-frame points [N,K,3] -> pixels [N,K,2]."""
    return project(points, ev.focal, ev.img_center)

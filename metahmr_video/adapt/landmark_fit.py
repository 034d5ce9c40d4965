"""A body fitted to landmarks by optimisation alone (no network), batched over people.

The product uses it as a second start for photos and video frames (`Fitter.fit_evidence(...,
landmark_start=True)`): the body fitted to MediaPipe's world landmarks (root-relative 3D) plus the
2D landmarks through the camera, kept for a person when it explains that evidence better than the
adapted network; in a video, from the track's previous landmark fit (`init`). The
real-pixel evaluation uses it as the optimisation-only baseline and, fitted to the 3D reference
landmarks themselves, as the joint-definition floor.

Unknowns: bone rotations (6D; bone 0 = global orientation in the camera frame), phenotypes, and
the pelvis position (camera frame, metres). Loss, per person: confidence-weighted mean distance
of the body's hip-centred MediaPipe-33 keypoints to the hip-centred 3D targets (metres) + w_2d x
the mean weighted pixel distance of the projected keypoints to the 2D targets, divided by the
person's box size + light pulls of the non-root bones to the rest pose and of the shape to the
body's neutral one (`shape_center`, in `shape_scale` units; kept within `shape_bounds`). Adam; the
global orientation starts from a Kabsch fit of the rest torso to the targets'.
"""
from __future__ import annotations

import roma
import torch

from metahmr_video.core.camera import project
from metahmr_video.core.rotations import rotmat_to_sixd, sixd_to_rotmat
from metahmr_video.model.features import Evidence
from metahmr_video.model.losses import reproj_px

_HIPS = (23, 24)
_TORSO = [11, 12, 23, 24]


def _mid_hip(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x[:, _HIPS[0]] + x[:, _HIPS[1]])[:, None]


def fit_landmarks(body, target3d: torch.Tensor, w3d: torch.Tensor, kp2d: torch.Tensor | None = None,
                  w2d: torch.Tensor | None = None, focal: torch.Tensor | None = None,
                  center: torch.Tensor | None = None, box_size: torch.Tensor | None = None,
                  w_2d: float = 1.0, iters: int = 300, lr: float = 0.03, w_pose: float = 1e-3,
                  w_shape: float = 1e-3, init: tuple | None = None):
    """Fit N bodies. target3d [N,33,3] metres, camera-aligned axes (only its hip-centred shape is
    used); w3d [N,33] >= 0; optional 2D: kp2d [N,33,2] pixels, w2d [N,33], focal [N], center [N,2],
    box_size [N] pixels; init: optional (pose [N,J,3,3], shape [N,S], transl [N,3] metres) to start
    from (e.g. each person's fit in their previous frame) instead of the rest pose turned onto the
    targets' torso. Returns the body output (joints [N,31,3], keypoints [N,33,3], camera frame)
    and (pose, shape, transl)."""
    n = target3d.shape[0]
    tgt = torch.nan_to_num(target3d.float())
    w3d = torch.where(torch.isfinite(target3d).all(-1), w3d.float(), torch.zeros_like(w3d.float()))
    eye = torch.eye(3, device=tgt.device).expand(1, body.num_bones, 3, 3)
    with torch.no_grad():
        rest = body(eye, return_vertices=False).keypoints
        rel_rest = (rest - _mid_hip(rest))[:, _TORSO].expand(n, -1, -1)
        rel_tgt = (tgt - _mid_hip(tgt))[:, _TORSO]
        r0, _ = roma.rigid_points_registration(rel_rest, rel_tgt)
        transl0 = torch.zeros(n, 3, device=tgt.device)
        if kp2d is not None:
            # depth from the ratio of 3D to 2D torso size, centred on the 2D mid-hip ray
            size3 = (rel_tgt - rel_tgt.mean(1, keepdim=True)).norm(dim=-1).mean(-1)
            k2 = torch.nan_to_num(kp2d.float())[:, _TORSO]
            size2 = (k2 - k2.mean(1, keepdim=True)).norm(dim=-1).mean(-1).clamp(min=1.0)
            z = (focal * size3 / size2).clamp(0.5, 30.0)
            hip2 = 0.5 * (kp2d[:, _HIPS[0]] + kp2d[:, _HIPS[1]]).float()
            transl0 = torch.cat([(hip2 - center) / focal[:, None] * z[:, None], z[:, None]], -1)
    six = rotmat_to_sixd(eye.expand(n, -1, -1, -1)).clone()
    six[:, 0] = rotmat_to_sixd(r0)
    shape = torch.full((n, body.num_shape), float(body.shape_center), device=tgt.device)
    transl = transl0.clone()
    if init is not None:
        six, shape, transl = (t.detach().to(tgt.device).float().clone() for t in (rotmat_to_sixd(init[0].float()), init[1], init[2]))
    six.requires_grad_(True)
    shape.requires_grad_(True)
    lo, hi = body.shape_bounds
    transl.requires_grad_(True)
    eye6 = rotmat_to_sixd(torch.eye(3, device=tgt.device))
    opt = torch.optim.Adam([six, shape, transl], lr=lr)
    wsum = w3d.sum(-1).clamp(min=1e-6)
    for it in range(iters):
        pose = sixd_to_rotmat(six)
        out = body(pose, shape.clamp(lo, hi), transl, return_vertices=False)
        kp = out.keypoints
        rel = kp - _mid_hip(kp)
        loss = ((rel - (tgt - _mid_hip(tgt))).norm(dim=-1) * w3d).sum(-1) / wsum
        if kp2d is not None:
            px = project(kp, focal, center)
            d2 = (px - torch.nan_to_num(kp2d.float())).norm(dim=-1) / box_size[:, None]
            loss = loss + w_2d * (d2 * w2d).sum(-1) / w2d.sum(-1).clamp(min=1e-6)
        loss = loss + w_pose * ((six[:, 1:] - eye6) ** 2).sum(-1).mean(-1) + w_shape * (((shape - body.shape_center) / body.shape_scale) ** 2).sum(-1)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        if it == int(iters * 0.7):
            for g in opt.param_groups:
                g["lr"] = lr * 0.2
    with torch.no_grad():
        pose, shape = sixd_to_rotmat(six), shape.clamp(lo, hi)
        return body(pose, shape, transl, return_vertices=False), (pose, shape, transl.detach())


def fit_evidence_landmarks(body, ev: Evidence, **options):
    """`fit_landmarks` on a fitter's evidence (world landmarks weighted by their visibility, 2D by
    confidence, through the evidence's camera); `options`: its iters, lr, init, ...: the fitted
    bodies' output and (pose [N,J,3,3], shape [N,S], transl [N,3] metres, camera frame)."""
    with torch.enable_grad():
        return fit_landmarks(body, ev.world, ev.world_vis, ev.kp2d, ev.conf, ev.focal, ev.img_center, ev.box_size,
                             **options)


def evidence_residual(keypoints3d: torch.Tensor, keypoints_px: torch.Tensor, ev: Evidence,
                      w_world: float = 1.0) -> torch.Tensor:
    """How badly bodies explain their evidence [N]: the confidence-weighted mean pixel distance of
    their projected landmarks to the 2D landmarks, in units of the box size, + w_world x the
    visibility-weighted mean distance (metres) of their hip-centred landmarks [N,33,3] to the
    hip-centred world landmarks (for people that have them)."""
    r = reproj_px(keypoints_px, ev) / ev.box_size
    d3 = ((keypoints3d - _mid_hip(keypoints3d)) - (ev.world - _mid_hip(ev.world))).norm(dim=-1)
    r3 = (d3 * ev.world_vis).sum(-1) / ev.world_vis.sum(-1).clamp(min=1e-6)
    return r + w_world * ev.has_world * r3

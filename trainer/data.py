"""Synthetic training/validation data, generated on the fly from the body model.

One sample: a body posed by the motion prior (`metahmr_trainer.prior`; other skeletons than Anny's get it
retargeted, `metahmr_trainer.retarget`), a random shape (`body.sample_shape`), a
random camera (image size, focal, elevation) and placement (distance 2-9 m, anywhere in the
frame), then two evidences with their own, different noise models:

2D landmarks (TTO evidence; "detector-like"): pixel jitter of 1 px + 0.4-1.5% of the box side (so
relatively larger for small, distant people), 5% dropped landmarks (confidence 0-0.3, jitter 10%
of the box), 2% outliers (jitter 15% of the box, confidence kept), 3% of people with left/right
labels swapped, landmarks outside the image get confidence 0; confidences otherwise U(0.7, 1).

World landmarks (regressor input; MediaPipe world frame: hip-centred, camera-aligned axes, y down,
metres): global scale x U(0.85, 1.15), depth flattened x U(0.5, 1.1), anisotropic bias x/y x
U(0.93, 1.07) (bone-length bias), in-plane noise 1.5-2.5 cm and depth noise 4-9 cm per landmark,
a rotation error of ~3 degrees, 5% of people with left/right labels swapped, 5% with one limb's
depth mirrored about the hips, 5% with no world landmarks at all (the flat stand-in is used).

The person's box: the landmarks' bounding box made square, side x U(1.05, 1.35), centre jitter 5%.

Truncated framings (`SyntheticData(truncated=...)`, off by default): that share of the people is
framed by `metahmr_trainer.render_data.frame_cut` so that the bottom edge cuts the body at the chest, waist,
hips or knees. The real detector then still places every landmark, but squeezes the hidden part
towards the frame (its guessed body is too small: docs/experiments.md E22), with a confidence that
fades with the distance outside the image; this is simulated on the 3D landmarks before both
evidences are drawn (`hallucinate`): each landmark outside the image moves towards the point at its
depth that projects onto the nearest image edge, by a factor U(0.2, 0.8) per person, plus 5 cm of
noise. The box is then the (squeezed) landmarks' box, as `Fitter` builds it at run time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from metahmr_video.core.layout import MEDIAPIPE_33, Landmark, mirror_index
from metahmr_video.model.features import Evidence
from metahmr_video.model.losses import Target
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_trainer.prior import sample_global_orientation
from metahmr_trainer.retarget import CAM_FROM_PRIOR, motion_prior, prior_to_body

MIRROR = torch.tensor(mirror_index(MEDIAPIPE_33))
# Anny body frame (Z up, facing -Y, left +X) -> camera frame (x right, y down, z forward) for a
# person facing the camera: x_c = x_a, y_c = -z_a, z_c = y_a (the motion prior's frame is Anny's).
CAM_FROM_ANNY = CAM_FROM_PRIOR
IMAGE_SIZES = torch.tensor([[640, 480], [1280, 720], [1920, 1080], [720, 1280], [1080, 1920], [512, 512]], dtype=torch.float32)
CUTS = ("none", "chest", "waist", "hips", "knees")  # framings: where the frame's bottom edge cuts the body
LIMBS = {  # landmark indices per limb, for the depth-mirror corruption
    "left_arm": [13, 15, 17, 19, 21], "right_arm": [14, 16, 18, 20, 22],
    "left_leg": [25, 27, 29, 31], "right_leg": [26, 28, 30, 32],
}


@dataclass
class NoiseConfig:
    """Noise levels of the two evidences (see the module docstring)."""

    px_base: float = 1.0
    px_rel: tuple[float, float] = (0.004, 0.015)
    drop: float = 0.05
    outlier: float = 0.02
    swap2d: float = 0.03
    w_scale: tuple[float, float] = (0.85, 1.15)
    w_flatten: tuple[float, float] = (0.5, 1.1)
    w_aniso: tuple[float, float] = (0.93, 1.07)
    w_inplane: tuple[float, float] = (0.015, 0.025)
    w_depth: tuple[float, float] = (0.04, 0.09)
    w_rot: float = 0.05
    w_swap: float = 0.05
    w_limbflip: float = 0.05
    w_missing: float = 0.05


def _u(g, shape, lo, hi):
    return lo + (hi - lo) * torch.rand(shape, generator=g)


def _project(kp3d: torch.Tensor, focal: torch.Tensor, img_size: torch.Tensor) -> torch.Tensor:
    return focal[:, None, None] * kp3d[..., :2] / kp3d[..., 2:3].clamp(min=0.1) + img_size[:, None] / 2


def hallucinate(g: torch.Generator, kp3d: torch.Tensor, focal: torch.Tensor, img_size: torch.Tensor,
                which: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The detector's guess of the landmarks outside the image, for the people `which` [B] bool:
    camera-frame kp3d [B,33,3] metres with each outside landmark moved towards the point at its
    depth that projects onto the nearest image edge (factor U(0.2, 0.8) per person) plus 5 cm
    noise; and [B,33] pixels each landmark lies outside the image (0 inside)."""
    B = kp3d.shape[0]
    px = _project(kp3d, focal, img_size)
    edge = torch.minimum(torch.maximum(px, torch.zeros_like(px)), img_size[:, None])
    outside = (px - edge).norm(dim=-1) * which[:, None]
    z = kp3d[..., 2:3].clamp(min=0.1)
    anchor = torch.cat([(edge - img_size[:, None] / 2) * z / focal[:, None, None], kp3d[..., 2:3]], -1)
    lam = _u(g, (B, 1, 1), 0.2, 0.8)
    moved = anchor + lam * (kp3d - anchor) + 0.05 * torch.randn(B, 33, 3, generator=g)
    return torch.where(outside[..., None] > 0, moved, kp3d), outside


def evidence_from_body(g: torch.Generator, joints_cam: torch.Tensor, kp3d: torch.Tensor, focal: torch.Tensor,
                       img_size: torch.Tensor, noise: NoiseConfig,
                       keypoint_mask: torch.Tensor | None = None,
                       truncated: torch.Tensor | None = None) -> tuple[Evidence, torch.Tensor]:
    """Simulate both evidences from camera-frame keypoints kp3d [B,33,3]; returns (Evidence, clean 2D).
    keypoint_mask [33]: the body model's defined landmarks (the others get confidence and visibility 0).
    truncated [B] bool: people cut off by the frame, whose landmarks outside it the detector guesses
    (`hallucinate`; None: nobody)."""
    B = kp3d.shape[0]
    img_center = img_size / 2
    clean = _project(kp3d, focal, img_size)
    outside = None
    if truncated is not None and bool(truncated.any()):
        kp3d, outside = hallucinate(g, kp3d, focal, img_size, truncated)
    seen = clean if outside is None else _project(kp3d, focal, img_size)
    lo, hi = seen.min(1).values, seen.max(1).values
    side = (hi - lo).max(-1).values * _u(g, B, 1.05, 1.35)
    center = 0.5 * (lo + hi) + side[:, None] * 0.05 * torch.randn(B, 2, generator=g)
    # 2D evidence
    sig = noise.px_base + side * _u(g, B, *noise.px_rel)
    kp = seen + sig[:, None, None] * torch.randn(B, 33, 2, generator=g)
    conf = _u(g, (B, 33), 0.7, 1.0)
    drop = torch.rand(B, 33, generator=g) < noise.drop
    kp = torch.where(drop[..., None], kp + 0.10 * side[:, None, None] * torch.randn(B, 33, 2, generator=g), kp)
    conf = torch.where(drop, _u(g, (B, 33), 0.0, 0.3), conf)
    out = torch.rand(B, 33, generator=g) < noise.outlier
    kp = torch.where(out[..., None], kp + 0.15 * side[:, None, None] * torch.randn(B, 33, 2, generator=g), kp)
    swap = torch.rand(B, generator=g) < noise.swap2d
    kp = torch.where(swap[:, None, None], kp[:, MIRROR], kp)
    inside = (kp >= 0).all(-1) & (kp[..., 0] < img_size[:, None, 0]) & (kp[..., 1] < img_size[:, None, 1])
    conf = torch.where(inside, conf, torch.zeros_like(conf))
    # world landmarks
    hip = 0.5 * (kp3d[:, Landmark.LEFT_HIP] + kp3d[:, Landmark.RIGHT_HIP])
    w = kp3d - hip[:, None]
    w[..., 2] = w[..., 2] * _u(g, (B, 1), *noise.w_flatten)
    w[..., :2] = w[..., :2] * _u(g, (B, 1, 2), *noise.w_aniso)
    w = w * _u(g, (B, 1, 1), *noise.w_scale)
    rot = axis_angle_to_rotmat(noise.w_rot * torch.randn(B, 3, generator=g))
    w = w @ rot.transpose(-1, -2)
    w[..., :2] += _u(g, (B, 1, 1), *noise.w_inplane) * torch.randn(B, 33, 2, generator=g)
    w[..., 2] += _u(g, (B, 1), *noise.w_depth) * torch.randn(B, 33, generator=g)
    flip = torch.rand(B, generator=g) < noise.w_limbflip
    limb = torch.randint(0, len(LIMBS), (B,), generator=g)
    for k, idx in enumerate(LIMBS.values()):
        sel = (flip & (limb == k))[:, None]
        w[:, idx, 2] = torch.where(sel, -w[:, idx, 2], w[:, idx, 2])
    wswap = torch.rand(B, generator=g) < noise.w_swap
    w = torch.where(wswap[:, None, None], w[:, MIRROR], w)
    has = (torch.rand(B, generator=g) >= noise.w_missing).float()
    wvis = torch.where(drop, conf, _u(g, (B, 33), 0.6, 1.0))
    if outside is not None:  # the detector's confidence fades outside the image
        wvis = wvis * torch.exp(-outside / (0.1 * side[:, None]))
    ev = Evidence(kp2d=kp, conf=conf, world=w * has[:, None, None], world_vis=wvis * has[:, None], has_world=has,
                  box_center=center, box_size=side, focal=focal, img_center=img_center)
    return (ev if keypoint_mask is None else ev.masked(keypoint_mask)), clean


class SyntheticData:
    """Draws (Evidence, Target) batches: the body posed by the motion prior, seen by a random camera.

    Any body model: the motion prior is Anny's, carried to other skeletons by `metahmr_trainer.retarget`;
    root orientations are drawn about the prior frame's axes and turned into the body's frame;
    shapes come from `body.sample_shape`; `body.cam_from_body` stands the body up facing the camera.
    """

    def __init__(self, body, noise: NoiseConfig | None = None, image_size: tuple[int, int] | None = None,
                 focal: float | None = None, prior=None, truncated: float = 0.0) -> None:
        """image_size / focal: fix the camera (default: random per sample). prior: an object with
        `sample(batch, generator) -> [B, num_bones, 3]` rotation vectors (default: `motion_prior(body)`,
        built on first use). truncated: share of people framed so that the frame cuts them (`CUTS`,
        evenly; see the module docstring)."""
        self.body = body
        self.image_size, self.focal = image_size, focal
        self._prior = prior
        self.noise = noise or NoiseConfig()
        self.truncated = float(truncated)

    @property
    def prior(self):
        if self._prior is None:
            self._prior = motion_prior(self.body)
        return self._prior

    @torch.no_grad()
    def sample(self, batch: int, generator: torch.Generator | None = None) -> tuple[Evidence, Target]:
        g = generator if generator is not None else torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, ())))
        B = batch
        pose = axis_angle_to_rotmat(self.prior.sample(B, g))
        shape = self.body.sample_shape(B, g)
        root = prior_to_body(self.body, axis_angle_to_rotmat(sample_global_orientation(B, g)))
        pose[:, 0] = root @ pose[:, 0]  # the prior's own root (upright in the body's frame) turned
        cuts = None
        if self.truncated > 0:
            cut = torch.randint(1, len(CUTS), (B,), generator=g)
            cuts = torch.where(torch.rand(B, generator=g) < self.truncated, cut, torch.zeros_like(cut))
        return self.observe(pose, shape, g, cuts=cuts)[:2]

    @torch.no_grad()
    def observe(self, pose: torch.Tensor, shape: torch.Tensor, g: torch.Generator, random_heading: bool = False,
                cuts: torch.Tensor | None = None):
        """Place bodies (pose [B,J,3,3] with bone 0 = orientation in the body's own frame, shape
        [B,S]) in front of a random camera and simulate both evidences. random_heading adds a yaw
        (about the body's up axis) in [-pi, pi). cuts [B] int: framing per person, an index into
        `CUTS` (None: all whole). Returns (Evidence, Target, framing codes [B]: a body not upright
        enough for its cut is seen whole, 0)."""
        pose, size, focal, transl = sample_camera(g, pose, self.image_size, self.focal, random_heading, self.body)
        cuts = torch.zeros(pose.shape[0], dtype=torch.long) if cuts is None else cuts.clone()
        if bool(cuts.any()):
            from metahmr_trainer.render_data import frame_cut

            rel = self.body(pose, shape=shape, return_vertices=False)  # pelvis at the origin
            for i in torch.nonzero(cuts).flatten().tolist():
                pts = torch.cat([rel.keypoints[i], rel.joints[i]])
                t = frame_cut(rel.keypoints[i], pts, float(focal[i]), tuple(size[i].tolist()), CUTS[cuts[i]], g)
                if t is None:
                    cuts[i] = 0
                else:
                    transl[i] = t
        out = self.body(pose, shape=shape, transl=transl, return_vertices=False)
        ev, clean = evidence_from_body(g, out.joints, out.keypoints, focal, size, self.noise, self.body.keypoint_mask,
                                       truncated=cuts > 0 if bool(cuts.any()) else None)
        return ev, Target(pose=pose, shape=shape, transl=transl, joints=out.joints, kp2d=clean), cuts


def sample_camera(g: torch.Generator, pose: torch.Tensor, image_size: tuple[int, int] | None = None,
                  focal: float | None = None, random_heading: bool = False, body=None):
    """A random camera for bodies posed in their own frame (pose [B,J,3,3], bone 0 = orientation;
    `body` gives the frame, `cam_from_body`; None: Anny's). random_heading: a yaw about the body's up
    axis in [-pi, pi).

    Elevation U(-0.15, 0.5) rad (looking down +), image size from IMAGE_SIZES, focal = diagonal x
    U(0.6, 1.4) pixels, pelvis at distance U(2, 9) m and anywhere in the middle of the frame.
    image_size / focal fix the camera. Returns (pose with bone 0 in the camera frame, image size
    [B,2] (width, height) pixels, focal [B] pixels, transl [B,3] pelvis in the camera frame, metres).
    """
    B = pose.shape[0]
    pose = pose.clone()
    if random_heading:
        yaw = _u(g, B, -math.pi, math.pi)
        rz = axis_angle_to_rotmat(torch.stack([torch.zeros(B), torch.zeros(B), yaw], -1))
        pose[:, 0] = (rz if body is None else prior_to_body(body, rz)) @ pose[:, 0]
    elev = _u(g, B, -0.15, 0.5)  # camera looking down (+) or slightly up at the person
    rx = axis_angle_to_rotmat(torch.stack([-elev, torch.zeros(B), torch.zeros(B)], -1))
    pose[:, 0] = rx @ (CAM_FROM_ANNY if body is None else body.cam_from_body) @ pose[:, 0]
    size = IMAGE_SIZES[torch.randint(0, len(IMAGE_SIZES), (B,), generator=g)]
    f = torch.linalg.norm(size, dim=-1) * _u(g, B, 0.6, 1.4)
    if image_size is not None:
        size = torch.tensor([float(v) for v in image_size]).expand(B, 2)
        f = torch.linalg.norm(size, dim=-1) if focal is None else torch.full((B,), float(focal))
    dist = _u(g, B, 2.0, 9.0)
    px = size * torch.stack([_u(g, B, 0.25, 0.75), _u(g, B, 0.35, 0.65)], -1)
    transl = torch.cat([(px - size / 2) * dist[:, None] / f[:, None], dist[:, None]], -1)
    return pose, size, f, transl


def fixed_split(body, n: int, seed: int = 12345, noise: NoiseConfig | None = None) -> tuple[Evidence, Target]:
    """A deterministic held-out split (never used for training: training seeds differ)."""
    return SyntheticData(body, noise).sample(n, torch.Generator().manual_seed(seed))

"""The public fitting API: per-person 2D landmarks (+ optional world landmarks) in, body-model
parameters and named 3D joints out, after K test-time optimisation steps, all people at once;
each person gets their iterate (0..K) of lowest test loss, so a step that overshoots costs nothing.

>>> fitter = Fitter.load()                     # Anny with the shipped checkpoint, loaded once
>>> res = fitter.fit(kp2d, conf, world, boxes, (640, 480))
>>> res.named_joints()["left_knee"]            # [N, 3] metres, camera frame (x right, y down, z fwd)
>>> smpl = Fitter.load(body=SmplBody("SMPL_NEUTRAL.pkl"))  # its checkpoint from `train --body`

Inputs (numpy or torch): keypoints2d [N,33,2] full-frame pixels (MediaPipe-33 order), conf [N,33]
in [0,1], world_landmarks [N,33,3] metres (MediaPipe's hip-centred metric frame, y down) or None,
boxes [N,4] xyxy pixels (grown to hold every landmark, see `body_box`), image_size (width,
height), focal in pixels (None: image diagonal). Landmarks outside the image get confidence 0 in
the 2D test loss (their world landmarks still enter the regressor with the given confidence).
start="meta": TTO from the meta-trained regressor with its step sizes and the auxiliary network's
pseudo targets (when the checkpoint has one); start="plain": EFT, TTO from the plain regressor with
a fixed lr and the 2D loss only. A person whose evidence is non-finite, or whose adaptation
produces a non-finite result, gets the un-adapted prediction and fallback=True; others are
unaffected.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from metahmr_video.adapt.landmark_fit import evidence_residual, fit_evidence_landmarks
from metahmr_video.adapt.steps import body_forward, inner_steps, last_layer_steps, pose_shape_rows
from metahmr_video.body import AnnyBody
from metahmr_video.core.camera import default_focal
from metahmr_video.core.errors import InputError, ModelFileError
from metahmr_video.core.layout import STANDARD_JOINTS
from metahmr_video.model.checkpoint import (TRAIN_TIME, Checkpoint, MissingCheckpointError, check_body,
                                            default_checkpoint, train_command)
from metahmr_video.model.features import Evidence, decode, features, project_points
from metahmr_video.model.losses import reproj_px
from metahmr_video.model.regressor import LAST_LAYER, Regressor

MAX_BATCH = 32  # people adapted per batched computation (bounds memory for crowds)
# A network body whose mean reprojection exceeds this share of the person's box leaves its 2D evidence
# unexplained: the landmark start may replace it (E39: chosen on rendered hard poses, checked on real pixels).
LANDMARK_RESIDUAL = 0.03
LANDMARK_ITERS = 300  # a landmark fit from the rest pose
WARM_LANDMARK_ITERS = 15  # one from the person's previous landmark fit (`fit(landmark_warm=)`) ...
WARM_LANDMARK_LR = 0.01  # ... at this Adam rate (the cold fit's 0.03 shakes a fit it starts on, E48)
NEAR_LANDMARK = 1.3  # in a video, a body at most this x the threshold off starts from itself, as a warm fit (E54)
LANDMARK_W_2D = 1.0  # the landmark fit's 2D term (box sizes) against its 3D term (metres), `fit_landmarks(w_2d=)`


@dataclass
class FitResult:
    """Per-person results (CPU tensors). Camera frame: OpenCV (x right, y down, z forward), metres.

    pose [N,J,3,3] bone rotations (bone 0 = global orientation in the camera frame); shape [N,S]
    (Anny: phenotypes; SMPL: betas); transl [N,3] the body model's translation (Anny: the pelvis
    position; SMPL/SMPL-X: smplx's transl, see `SmplBody`); joints [N,K,3] the body's joints, named
    by `joint_names` (Anny: cmu_mb bone heads; SMPL: its kinematic joints); keypoints3d [N,33,3] MediaPipe-33 points;
    keypoints2d_pred [N,33,2] pixels; reproj_error [N] mean confidence-weighted pixel error;
    fallback [N] bool (True: un-adapted prediction used); from_landmarks [N] bool (True: the
    optimisation fit to the landmarks explained the evidence better and is reported, see
    `fit(landmark_start=)`); landmark_tried [N] bool (a landmark fit was made, kept or not);
    landmark_cold [N] bool (that fit started from the rest pose, LANDMARK_ITERS steps);
    carry: with `fit(..., return_carry=True)`,
    each person's adaptation after the last step as offsets of the regressor's last layer (weight
    [N,P,H], bias [N,P]; zero for fallbacks), for `fit(..., carry=)` on their next frame, else None.
    """

    pose: torch.Tensor
    shape: torch.Tensor
    transl: torch.Tensor
    joints: torch.Tensor
    keypoints3d: torch.Tensor
    keypoints2d_pred: torch.Tensor
    reproj_error: torch.Tensor
    fallback: torch.Tensor
    joint_names: list[str]
    standard_joint_indices: list[int]
    from_landmarks: torch.Tensor | None = None
    landmark_tried: torch.Tensor | None = None
    landmark_cold: torch.Tensor | None = None
    carry: tuple[torch.Tensor, torch.Tensor] | None = None

    def named_joints(self) -> dict[str, torch.Tensor]:
        """Standard joint name (pelvis, left/right hip, knee, ankle, shoulder, elbow, wrist, neck,
        head) -> [N,3] metres, camera frame; also every bone name of `joint_names`."""
        named = {n: self.joints[:, i] for i, n in enumerate(self.joint_names)}
        named.update({n: self.joints[:, i] for n, i in zip(STANDARD_JOINTS, self.standard_joint_indices)})
        return named


def _tensor(a, name: str, shape_tail: tuple, n: int | None = None) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a, dtype=np.float32) if not torch.is_tensor(a) else a).float()
    if t.dim() != len(shape_tail) + 1 or tuple(t.shape[1:]) != shape_tail or (n is not None and t.shape[0] != n):
        raise InputError(f"{name}: expected shape [N, {', '.join(map(str, shape_tail))}], got {list(t.shape)}")
    return t


def _tensors(arrays) -> tuple[torch.Tensor, ...]:
    """Numpy arrays or tensors as tensors (tensors kept as they are)."""
    return tuple(torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a) for a in arrays)


def body_box(kp2d: torch.Tensor, boxes: torch.Tensor, pad: float = 0.1) -> torch.Tensor:
    """The box [N,4] xyxy pixels the regressor sees: `boxes` grown to hold every landmark kp2d
    [N,33,2] pixels, padded by `pad` x their extent's larger side (as `boxes.box_from_keypoints`),
    whatever its confidence and also outside the image. The regressor was trained with boxes around
    the whole body; a detector's box clipped to the image, or around its confident landmarks only,
    holds just the visible part of a person cut off by the frame, and the body came out small and
    far. The landmark model places every landmark, its guesses for the hidden part included."""
    lo, hi = kp2d.min(1).values, kp2d.max(1).values
    p = pad * (hi - lo).max(-1, keepdim=True).values
    return torch.cat([torch.minimum(boxes[:, :2], lo - p), torch.maximum(boxes[:, 2:], hi + p)], -1)


def visible_size(ev: Evidence, min_conf: float = 0.5, pad: float = 0.1) -> torch.Tensor:
    """[N] pixels: the larger side of the extent of each person's confident landmarks in the image,
    padded as `body_box` (the whole `box_size` when fewer than 3 are confident). For someone cut by
    the frame this is the part a user sees; `box_size` also holds the landmark model's guesses for
    the rest."""
    sure = ev.conf >= min_conf
    big = torch.finfo(ev.kp2d.dtype).max
    lo = torch.where(sure[..., None], ev.kp2d, torch.full_like(ev.kp2d, big)).min(1).values
    hi = torch.where(sure[..., None], ev.kp2d, torch.full_like(ev.kp2d, -big)).max(1).values
    side = (hi - lo).max(-1).values * (1.0 + 2.0 * pad)
    return torch.where(sure.sum(-1) >= 3, torch.minimum(side, ev.box_size), ev.box_size).clamp(min=1.0)


def make_evidence(keypoints2d, conf, world_landmarks, boxes, image_size, focal=None,
                  device="cpu") -> tuple[Evidence, torch.Tensor]:
    """Validate and convert user arrays; returns (Evidence, invalid [N] bool for non-finite people)."""
    kp = _tensor(keypoints2d, "keypoints2d", (33, 2))
    n = kp.shape[0]
    cf = _tensor(conf, "conf", (33,), n)
    bx = _tensor(boxes, "boxes", (4,), n)
    try:
        width, height = (float(v) for v in image_size)
    except (TypeError, ValueError) as exc:
        raise InputError(f"image_size must be (width, height), got {image_size!r}") from exc
    if not (width > 0 and height > 0):
        raise InputError(f"image_size must be positive, got {image_size!r}")
    f = default_focal(width, height) if focal is None else float(focal)
    if not (np.isfinite(f) and f > 0):
        raise InputError(f"focal must be a positive number of pixels, got {focal!r}")
    kp_ok = torch.isfinite(kp).all(-1) & torch.isfinite(cf)
    cf = torch.where(kp_ok, cf.clamp(0, 1), torch.zeros_like(cf))
    kp = torch.where(kp_ok[..., None], kp, torch.zeros_like(kp))
    box_ok = torch.isfinite(bx).all(-1) & (bx[:, 2] > bx[:, 0]) & (bx[:, 3] > bx[:, 1])
    invalid = ~box_ok | ~kp_ok.all(-1) | (cf.sum(-1) <= 0)
    default_box = torch.tensor([width * 0.25, height * 0.1, width * 0.75, height * 0.9])
    bx = body_box(kp, torch.where(box_ok[:, None], bx, default_box))
    if world_landmarks is None:
        world = torch.zeros(n, 33, 3)
        wvis = torch.zeros(n, 33)
        has = torch.zeros(n)
    else:
        world = _tensor(world_landmarks, "world_landmarks", (33, 3), n)
        w_ok = torch.isfinite(world).all(-1)
        invalid = invalid | ~w_ok.all(-1)
        world = torch.where(w_ok[..., None], world, torch.zeros_like(world))
        wvis = torch.where(w_ok, cf, torch.zeros_like(cf))
        has = (w_ok.any(-1)).float()
    inside = (kp >= 0).all(-1) & (kp[..., 0] <= width) & (kp[..., 1] <= height)
    cf = torch.where(inside, cf, torch.zeros_like(cf))  # a landmark placed outside the image is a guess
    center = 0.5 * (bx[:, :2] + bx[:, 2:])
    size = (bx[:, 2:] - bx[:, :2]).max(-1).values
    ev = Evidence(kp2d=kp, conf=cf, world=world, world_vis=wvis, has_world=has, box_center=center,
                  box_size=size, focal=torch.full((n,), f), img_center=torch.tensor([width / 2, height / 2]).expand(n, 2))
    return ev.to(device), invalid.to(device)


class Fitter:
    """Loads a checkpoint once; `fit` adapts all given people, `max_batch` per batched computation."""

    def __init__(self, ckpt: Checkpoint, device: str | torch.device = "cpu", body=None,
                 max_batch: int = MAX_BATCH) -> None:
        """body: the body model `ckpt` was trained for (AnnyBody or SmplBody; None: Anny)."""
        if body is None and ckpt.body != AnnyBody.model_id:
            raise ModelFileError(f"this checkpoint was trained for body model {ckpt.body} "
                                 f"({ckpt.info.get('body_file', 'an SMPL/SMPL-X file')}); give that body: "
                                 "Fitter.load(checkpoint, body=SmplBody(FILE)), or --body FILE")
        body = body if body is not None else AnnyBody()
        check_body(ckpt, body)
        self.ckpt = ckpt
        self.device = torch.device(device)
        self.body = body.to(self.device)
        self.default_steps = int(ckpt.default_steps)
        self.max_batch = max(1, int(max_batch))
        for net in (ckpt.meta, ckpt.aux, ckpt.plain):
            if net is not None:
                net.to(self.device).eval().requires_grad_(False)
        self.rates = None if ckpt.rates is None else {k: v.to(self.device) for k, v in ckpt.rates.items()}

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, device: str = "cpu", body=None,
             max_batch: int = MAX_BATCH) -> "Fitter":
        """checkpoint: a path, or None for the body's default (`default_checkpoint`); raises
        MissingCheckpointError when that one has not been trained yet."""
        path = default_checkpoint(body) if checkpoint is None else Path(checkpoint)
        if checkpoint is None and not path.is_file() and body is not None:
            raise MissingCheckpointError(f"no meta-checkpoint for {body.model_path.name} ({body.model_id}) yet; "
                                         f"train it ({TRAIN_TIME}) with: {train_command(body)}")
        return cls(Checkpoint.load(path, device), device, body, max_batch)

    def resolve_steps(self, steps: int | None) -> int:
        """TTO steps to run: `steps`, or the checkpoint's default when None."""
        steps = self.default_steps if steps is None else int(steps)
        if steps < 0:
            raise InputError(f"steps must be >= 0, got {steps}")
        return steps

    def fit(self, keypoints2d, conf, world_landmarks, boxes, image_size, focal=None, steps: int | None = None,
            start: str = "meta", prior: tuple | None = None, prior_weight: float = 0.0,
            carry: tuple | None = None, return_carry: bool = False, landmark_start: bool = False,
            landmark_residual: float = LANDMARK_RESIDUAL, landmark_warm: tuple | None = None,
            landmark_allow: np.ndarray | list | None = None, landmark_w_2d: float = LANDMARK_W_2D) -> FitResult:
        """prior: optional (pose [N,J,3,3], shape [N,S], has_prior [N] bool), e.g. each person's body
        in the previous frame; with prior_weight > 0 the test loss gains
        prior_weight * (mean_bones ||R - R_prior||_F^2 + ||shape - shape_prior||^2) for people that
        have one (the others are anchored to their own un-adapted prediction with the same weight).
        carry: optional (weight [N,P,H], bias [N,P]) from an earlier `FitResult.carry`: each person's
        steps start from that adaptation instead of the meta-parameters (zeros: from the
        meta-parameters); return_carry: fill `FitResult.carry`. Both need start="meta" and a
        checkpoint that adapts only the last layer (`supports_carry`).
        landmark_start: also fit each person's body to their landmarks by optimisation alone
        (`landmark_fit`: world landmarks + 2D, no network; ~300 body-model steps) and report it for
        a person whose adapted network body leaves their 2D evidence unexplained (mean reprojection
        above `landmark_residual` of their visible size, `visible_size`) when it explains the evidence better
        (`evidence_residual`: 2D reprojection + distance to the world landmarks); for photos, where
        a regressor's start far from an unusual pose leaves the fit in the wrong basin (E39).
        landmark_warm: optional (pose [N,J,3,3], shape [N,S], transl [N,3], has [N] bool), e.g. each
        person's landmark fit in their previous video frame: people with `has` start their landmark
        fit there and take WARM_LANDMARK_ITERS steps instead of LANDMARK_ITERS from the rest pose;
        given (a video frame), people without one whose body is at most NEAR_LANDMARK x
        `landmark_residual` off start the same way from their adapted network body (E54);
        landmark_allow: optional [N] bool, the people who may get a landmark fit at all (default: all;
        `FitResult.landmark_tried` says who got one, kept or not); landmark_w_2d: the landmark fit's
        weight of its 2D term (box sizes) against its 3D term (metres), `fit_landmarks(w_2d=)`."""
        ev, invalid = make_evidence(keypoints2d, conf, world_landmarks, boxes, image_size, focal, self.device)
        if prior is not None and prior_weight > 0:
            pose, shape, has = _tensors(prior)
            prior = (pose.float().to(self.device), shape.float().to(self.device), has.bool().to(self.device))
        else:
            prior = None
        if carry is not None:
            carry = _tensors(carry)
        if landmark_warm is not None:
            landmark_warm = _tensors(landmark_warm)
        if landmark_allow is not None:
            landmark_allow = torch.as_tensor(np.asarray(landmark_allow, bool))
        return self.fit_evidence(ev, steps=steps, start=start, invalid=invalid, prior=prior,
                                 prior_weight=prior_weight, carry=carry, return_carry=return_carry,
                                 landmark_start=landmark_start, landmark_residual=landmark_residual,
                                 landmark_warm=landmark_warm, landmark_allow=landmark_allow,
                                 landmark_w_2d=landmark_w_2d)

    def supports_carry(self, start: str = "meta") -> bool:
        """Whether fits can carry a person's adaptation to their next frame (`fit(carry=)`): the
        steps start from the meta-parameters and adapt only the regressor's last layer."""
        net, _, rates, _ = self._setup(start)
        return start == "meta" and isinstance(net, Regressor) and isinstance(rates, dict) and set(rates) <= set(LAST_LAYER)

    def _setup(self, start: str):
        c = self.ckpt
        if start == "meta":
            rates = self.rates if self.rates is not None else c.lr
            return c.meta, c.aux, rates, c.loss_config
        if start == "plain":
            if c.plain is None:
                raise ModelFileError("this checkpoint holds no plain regressor (start='plain' unavailable)")
            return c.plain, None, c.eft_lr, replace(c.loss_config, w_pseudo=0.0)
        raise InputError(f"start must be 'meta' or 'plain', got {start!r}")

    def _landmark_start(self, ev: Evidence, params, out, px, ok: torch.Tensor, residual: float,
                        warm: tuple | None = None, allow: torch.Tensor | None = None, w_2d: float = LANDMARK_W_2D):
        """For people with finite evidence and world landmarks whose adapted network body leaves
        more than `residual` (of their visible size) of their 2D evidence unexplained: their bodies fitted to
        the landmarks by optimisation alone (from `warm` where it has them, see `fit`), kept where
        they explain the evidence better (`evidence_residual`). Returns (params, body output,
        pixels [N,33,2], from_landmarks [N], tried [N]: who got a landmark fit, cold [N]: from the
        rest pose); `allow` [N]: who may;
        `w_2d`: the landmark fit's 2D weight (`fit_landmarks`)."""
        ratio = reproj_px(px, ev) / visible_size(ev)
        unexplained = ok & (ev.has_world > 0) & (ratio > residual)
        if allow is not None:
            unexplained = unexplained & allow.to(unexplained.device)
        idx = unexplained.nonzero()[:, 0]
        use = torch.zeros_like(unexplained)
        if len(idx) == 0:
            return params, out, px, use, unexplained, use
        sub = ev.index(idx)
        cold = unexplained.clone()
        if warm is not None:  # a video frame: a body only slightly off starts from itself
            near = (ratio[idx] <= NEAR_LANDMARK * residual).cpu() & ~warm[3][idx.cpu()].bool()
            warm = tuple(torch.where(near.reshape(-1, *([1] * (w.dim() - 1))), n.detach().cpu().to(w.dtype), w[idx.cpu()])
                         for w, n in zip(warm, (params.pose[idx], params.shape[idx], params.transl[idx], near)))
            cold[idx] = ~warm[3].bool().to(cold.device)
        alt_out, (pose, shape, transl) = self._fit_landmarks(sub, warm, w_2d)
        alt_px = project_points(alt_out.keypoints, sub)
        better = evidence_residual(alt_out.keypoints, alt_px, sub) < evidence_residual(out.keypoints[idx], px[idx], sub)
        keep = better & torch.isfinite(alt_out.joints).flatten(1).all(-1)
        use[idx[keep]] = True

        def put(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            a = a.clone()
            a[idx[keep]] = b[keep]
            return a
        params = replace(params, pose=put(params.pose, pose), shape=put(params.shape, shape),
                         transl=put(params.transl, transl))
        out = replace(out, joints=put(out.joints, alt_out.joints), keypoints=put(out.keypoints, alt_out.keypoints))
        return params, out, put(px, alt_px), use, unexplained, cold

    def _fit_landmarks(self, ev: Evidence, warm: tuple | None, w_2d: float = LANDMARK_W_2D):
        """`fit_evidence_landmarks` for every person of `ev`: from the rest pose, or warm from
        (pose, shape, transl, has) for those that have it (fewer steps); `w_2d`: `fit_landmarks`'."""
        has = torch.zeros(len(ev), dtype=torch.bool) if warm is None else warm[3].bool()
        if not has.any():
            return fit_evidence_landmarks(self.body, ev, iters=LANDMARK_ITERS, w_2d=w_2d)
        groups = [(has, dict(iters=WARM_LANDMARK_ITERS, lr=WARM_LANDMARK_LR, init=tuple(t[has].to(self.device) for t in warm[:3]))),
                  (~has, dict(iters=LANDMARK_ITERS))]  # the cold fit at `fit_landmarks`' own rate, as above
        pose = torch.zeros(len(ev), self.body.num_bones, 3, 3, device=self.device)
        shape, transl = torch.zeros(len(ev), self.body.num_shape, device=self.device), torch.zeros(len(ev), 3, device=self.device)
        out = None
        for sel, how in groups:
            if not sel.any():
                continue
            i = sel.nonzero()[:, 0].to(self.device)
            o, (p, sh, t) = fit_evidence_landmarks(self.body, ev.index(i), w_2d=w_2d, **how)
            if out is None:
                out = replace(o, joints=o.joints.new_zeros(len(ev), *o.joints.shape[1:]),
                              keypoints=o.keypoints.new_zeros(len(ev), *o.keypoints.shape[1:]))
            pose[i], shape[i], transl[i], out.joints[i], out.keypoints[i] = p, sh, t, o.joints, o.keypoints
        return out, (pose, shape, transl)

    def next_carry(self, carry: tuple, keep: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """What people's next frame starts from (`fit(carry=)`), given their adaptation so far
        (`FitResult.carry`: weight [N,P,H], bias [N,P]): `keep` x it in the rows of the last layer
        that predict pose and shape, zero in the camera rows (where a person stands is estimated
        afresh every frame; carrying it drifts: E32)."""
        scale = float(keep) * pose_shape_rows(self.ckpt.meta).to(carry[0])
        return scale[:, None] * carry[0], scale * carry[1]

    def fit_evidence(self, ev: Evidence, steps: int | None = None, start: str = "meta",
                     invalid: torch.Tensor | None = None, callback=None, prior: tuple | None = None,
                     prior_weight: float = 0.0, carry: tuple | None = None,
                     return_carry: bool = False, landmark_start: bool = False,
                     landmark_residual: float = LANDMARK_RESIDUAL, landmark_warm: tuple | None = None,
                     landmark_allow: torch.Tensor | None = None, landmark_w_2d: float = LANDMARK_W_2D) -> FitResult:
        """Fit prepared evidence. callback(step, joints [N,K,3]) sees, after every step, what a fit
        with that many steps returns (each person's iterate of lowest test loss so far; evaluation);
        prior/prior_weight, carry/return_carry, landmark_start/_residual/_warm/_allow/_w_2d: see `fit`."""
        if (carry is not None or return_carry) and not self.supports_carry(start):
            raise InputError("carrying adaptation across frames needs start='meta' and a checkpoint "
                             "that adapts only the last layer")
        if carry is not None:
            carry = tuple(t.to(self.device, torch.float32) for t in carry)
        steps = self.resolve_steps(steps)
        ev = ev.masked(self.body.keypoint_mask)  # landmarks the body model lacks carry no evidence
        n, chunk = len(ev), self.max_batch
        invalid = torch.zeros(n, dtype=torch.bool, device=self.device) if invalid is None else invalid
        part = lambda a, i: None if a is None else tuple(t[i:i + chunk] for t in a)  # noqa: E731
        parts = [self._fit_chunk(ev.index(slice(i, i + chunk)), invalid[i:i + chunk], steps, start, callback,
                                 part(prior, i), prior_weight, part(carry, i), return_carry,
                                 landmark_residual if landmark_start else None, part(landmark_warm, i),
                                 None if landmark_allow is None else landmark_allow[i:i + chunk], landmark_w_2d)
                 for i in range(0, n, chunk)]
        cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0] if k != "carry"}
        if return_carry:
            cat["carry"] = tuple(torch.cat([p["carry"][j] for p in parts]) for j in range(2))
        body = self.body
        return FitResult(**cat, joint_names=list(body.joint_names),
                         standard_joint_indices=list(body.standard_joint_indices))

    def _fit_chunk(self, ev: Evidence, invalid: torch.Tensor, steps: int, start: str, callback,
                   prior: tuple | None = None, prior_weight: float = 0.0, carry: tuple | None = None,
                   return_carry: bool = False, landmark_residual: float | None = None,
                   landmark_warm: tuple | None = None, landmark_allow: torch.Tensor | None = None,
                   landmark_w_2d: float = LANDMARK_W_2D) -> dict:
        net, aux, rates, loss_cfg = self._setup(start)
        body = self.body
        x = features(ev)
        with torch.no_grad():
            theta0 = net(x)
            pseudo = decode(aux(x), ev, body) if aux is not None and loss_cfg.w_pseudo > 0 else None
            if prior is not None:
                # The temporal prior takes the pseudo-target slot of the test loss (it replaces f_u's).
                own = decode(theta0, ev, body)
                pose, shape, has = prior
                pseudo = replace(own, pose=torch.where(has[:, None, None, None], pose, own.pose),
                                 shape=torch.where(has[:, None], shape, own.shape))
                loss_cfg = replace(loss_cfg, w_pseudo=float(prior_weight))
        theta, new_carry = theta0, None
        if steps > 0:
            best = {"theta": theta0, "loss": torch.full((len(ev),), float("inf"), device=theta0.device)}

            def cb(s, th, loss):  # keep each person's iterate of lowest test loss (steps can overshoot)
                with torch.no_grad():
                    better = torch.isfinite(loss) & (loss < best["loss"])
                    best["theta"] = torch.where(better[:, None], th.detach(), best["theta"])
                    best["loss"] = torch.where(better, loss.detach(), best["loss"])
                    if callback is not None:  # what a fit with s steps returns
                        callback(s, body_forward(body, decode(best["theta"], ev, body)).joints)
            with torch.enable_grad():
                if carry is not None or return_carry:
                    last = last_layer_steps(net, body, x, ev, loss_cfg, steps, rates, pseudo=pseudo, guard=True,
                                            callback=cb, start=carry)
                    if return_carry:
                        new_carry = tuple(t.detach() for t in last.offset())
                else:
                    inner_steps(net, body, x, ev, loss_cfg, steps, rates, pseudo=pseudo, guard=True, callback=cb,
                                weights=False)
            theta = best["theta"]
        elif callback is not None:
            with torch.no_grad():
                callback(0, body_forward(body, decode(theta0, ev, body)).joints)
        with torch.no_grad():
            bad = ~torch.isfinite(theta).all(-1)
            params = decode(torch.where(bad[:, None], theta0, theta), ev, body)
            out = body_forward(body, params)
            bad = bad | ~torch.isfinite(out.joints).reshape(len(ev), -1).all(-1)
            if bad.any():
                p0 = decode(theta0, ev, body)
                out0 = body_forward(body, p0)
                sel = bad.reshape(-1, 1)
                params = type(params)(*(torch.where(sel.reshape(-1, *([1] * (a.dim() - 1))), b, a)
                                        for a, b in zip((params.pose, params.shape, params.transl, params.crop_cam),
                                                        (p0.pose, p0.shape, p0.transl, p0.crop_cam))))
                out = body_forward(body, params)
            px = project_points(out.keypoints, ev)
            from_landmarks, tried, cold = torch.zeros_like(bad), torch.zeros_like(bad), torch.zeros_like(bad)
            if landmark_residual is not None:
                params, out, px, from_landmarks, tried, cold = self._landmark_start(
                    ev, params, out, px, ~(bad | invalid), landmark_residual, landmark_warm, landmark_allow, landmark_w_2d)
            res = {"pose": params.pose.cpu(), "shape": params.shape.cpu(), "transl": params.transl.cpu(),
                   "joints": out.joints.cpu(), "keypoints3d": out.keypoints.cpu(),
                   "keypoints2d_pred": px.cpu(), "reproj_error": reproj_px(px, ev).cpu(),
                   "fallback": (bad | invalid).cpu(), "from_landmarks": from_landmarks.cpu(),
                   "landmark_tried": tried.cpu(), "landmark_cold": cold.cpu()}
            if return_carry:
                if new_carry is None:  # no steps: the adaptation stays where it was
                    w, b = net.last_layer()
                    new_carry = carry or (w.new_zeros(len(ev), *w.shape), b.new_zeros(len(ev), *b.shape))
                keep = ~(bad | invalid) & torch.isfinite(new_carry[0].flatten(1).sum(-1) + new_carry[1].sum(-1))
                if not bool(keep.all()):
                    new_carry = tuple(torch.where(keep.reshape(-1, *([1] * (t.dim() - 1))), t, torch.zeros_like(t))
                                      for t in new_carry)
                res["carry"] = tuple(t.cpu() for t in new_carry)
            return res

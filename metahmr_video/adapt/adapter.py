"""Per-frame adaptation: every detected person of a frame gets K test-time optimisation steps, all
of them batched (see `metahmr_video.adapt.fitter`), starting from the meta-parameters on a track's
first frame and from the track's own adaptation in its previous frame after that (online)."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from metahmr_video.adapt.fitter import LANDMARK_RESIDUAL, LANDMARK_W_2D, MAX_BATCH, Fitter
from metahmr_video.track.evidence_gate import EvidenceConfig
from metahmr_video.core.errors import InputError
from metahmr_video.core.records import Detection, Frame, PersonBody, TrackedPerson

LANDMARK_STARTS = ("photos", "always", "never")


@dataclass(frozen=True)
class AdaptConfig:
    """body: 'anny' or the path of an SMPL/SMPL-X model file (.pkl/.npz); steps: TTO steps per person
    and frame (None: the checkpoint's default); checkpoint: path or None for the body's own (the
    shipped one for Anny, the cached one trained by `train --body FILE` otherwise);
    max_batch: people per batched computation; focal: pixels or None
    (image diagonal); temporal_prior: weight of a track's body in its previous frame as a prior in
    TTO (0 = off), used when that body is at most `prior_max_gap_s` seconds old; frame_steps: the
    most person-steps a frame may spend (a crowded frame gives each person fewer steps, never fewer
    than one and never more than `steps`; None: no limit); carry: the fraction of a track's
    adaptation of pose and shape (the adapted rows of its regressor's last layer that predict them,
    relative to the meta-parameters) that its next frame starts from, when its previous body is at
    most `prior_max_gap_s` old (online adaptation: a track's steps add up over its frames; the
    camera rows start from the meta-parameters every frame; 0: every frame starts from the
    meta-parameters, as in the paper; checkpoints that adapt more than the last layer always do);
    photo_steps: TTO steps per person in a photo (an independent still image: no previous frame to
    build on and no frame rate to keep; every person gets them; None: `steps`); landmark_start:
    where each person is also fitted to their landmarks by optimisation alone, the body that
    explains the evidence better being kept (`Fitter.fit(landmark_start=True)`): "always" (photos
    and video frames: 300 body-model steps from the rest pose, in a video only the track's first
    such frame; its later frames start from its previous landmark fit, 15 steps; E48), "photos"
    (photos only) or "never"; landmark_residual / photo_landmark_residual: the mean reprojection
    error, in units of the person's visible size (`fitter.visible_size`: someone cut by the frame
    is judged on the part a user sees), above which a network body counts as not explaining its 2D
    evidence in a video frame / a photo (only those are refitted; a video's is the evidence gate's
    `max_residual`, over a size at most the gate's: every body that the gate would call unexplained
    gets the landmark start);
    landmark_w_2d: the landmark fit's weight of its 2D term (the mean distance of the projected
    landmarks to the 2D ones, in box sizes) against its 3D term (the mean distance to the world
    landmarks, in metres), in photos and video (`fit_landmarks(w_2d=)`; E50);
    landmark_retry_s: a video track whose landmark fit from the rest pose explained its evidence no
    better than its network body gets its next one no sooner than this (seconds; each costs ~0.7 s);
    landmark_warm_s: how long a track's last landmark fit serves as the start of its next (seconds);
    landmark_near: in a video, a person whose body is only slightly off (at most
    `fitter.NEAR_LANDMARK` x the threshold) starts their landmark fit from that body, as a warm fit
    (15 steps), not from the rest pose (300; E54); photos: off."""

    body: str = "anny"
    steps: int | None = None
    frame_steps: int | None = 8
    checkpoint: str | None = None
    max_batch: int = MAX_BATCH
    focal: float | None = None
    temporal_prior: float = 0.03
    prior_max_gap_s: float = 0.25
    carry: float = 1.0
    photo_steps: int | None = 20
    landmark_start: str = "always"
    landmark_residual: float = EvidenceConfig.max_residual
    photo_landmark_residual: float = LANDMARK_RESIDUAL
    landmark_w_2d: float = LANDMARK_W_2D
    landmark_retry_s: float = 2.0
    landmark_warm_s: float = 1.0
    landmark_near: bool = True

    def __post_init__(self) -> None:
        if self.landmark_start not in LANDMARK_STARTS:
            raise InputError(f"adapt.landmark_start must be one of {', '.join(LANDMARK_STARTS)}, "
                             f"got {self.landmark_start!r}")

    def for_photo(self) -> "AdaptConfig":
        """The settings of a photo (an independent still image): `photo_steps` for every person (no
        frame budget), nothing carried to a next frame, and the landmark start unless it is "never"."""
        return replace(self, steps=self.steps if self.photo_steps is None else self.photo_steps, frame_steps=None,
                       carry=0.0, landmark_start="never" if self.landmark_start == "never" else "always",
                       landmark_residual=self.photo_landmark_residual, landmark_near=False)


def evidence_arrays(dets: list[Detection]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The fitter's inputs from detections: keypoints2d [N,33,2] pixels, conf [N,33], world
    landmarks [N,33,3] metres (None unless every detection has them), boxes [N,4] xyxy pixels."""
    def stack(attr: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([getattr(d, attr) for d in dets]))

    world = stack("world_landmarks") if all(d.world_landmarks is not None for d in dets) else None
    return stack("keypoints2d"), stack("keypoint_conf"), world, stack("box")


class Adapter:
    """Turns a frame's tracked people into bodies.

    Only people detected in this frame are adapted (tracker-predicted ones have no evidence and
    leave a gap rather than an invented body). With `carry` > 0 a track's steps start from its
    adaptation in its previous frame (scaled by `carry`), a person's first frame from the
    meta-parameters. With `temporal_prior` > 0, a track's previous body enters the test loss as a
    prior on pose and shape (see `Fitter.fit`).
    `focal` (pixels) overrides the config's.

    >>> adapter = Adapter(Fitter.load(), AdaptConfig(steps=5))
    >>> bodies = adapter(frame, tracked_people)          # list[PersonBody]
    """

    def __init__(self, fitter: Fitter, config: AdaptConfig | None = None, focal: float | None = None) -> None:
        self.fitter, self.config = fitter, config or AdaptConfig()
        self.focal = self.config.focal if focal is None else focal
        # track id -> (time_s, pose [J,3,3], shape [S], carry: (weight [P,H], bias [P]) or None) of
        # its last adapted body (CPU tensors)
        self.last: dict[int, tuple] = {}
        # track id -> (time_s, pose [J,3,3], shape [S], transl [3]) of its last body fitted to its
        # landmarks (`landmark_start`), where its next landmark fit starts
        self.landmark: dict[int, tuple] = {}
        # track id -> time_s of its last landmark fit from the rest pose that lost to the network body
        self.landmark_lost: dict[int, float] = {}

    def reset(self) -> None:
        """Forget the per-track previous bodies (next video)."""
        self.last.clear()
        self.landmark.clear()
        self.landmark_lost.clear()

    def __call__(self, frame: Frame, people: list[TrackedPerson]) -> list[PersonBody]:
        people = [p for p in people if not p.predicted]
        max_gap = self.config.prior_max_gap_s
        # Previous bodies too old to serve as a prior are dropped (memory stays flat on long streams).
        self.last = {k: v for k, v in self.last.items() if frame.time_s - v[0] <= max_gap}
        warm_s = self.config.landmark_warm_s
        self.landmark = {k: v for k, v in self.landmark.items() if frame.time_s - v[0] <= warm_s}
        retry = self.config.landmark_retry_s
        self.landmark_lost = {k: t for k, t in self.landmark_lost.items() if frame.time_s - t < retry}
        if not people:
            return []
        dets = [p.detection for p in people]
        kp, conf, world, boxes = evidence_arrays(dets)
        weight = float(self.config.temporal_prior)
        carry = float(self.config.carry) > 0 and self.fitter.supports_carry()
        warm = self._landmark_warm(frame, people)
        has_warm = [warm is not None and bool(warm[3][i]) for i in range(len(people))]
        res = self.fitter.fit(kp, conf, world, boxes, (frame.width, frame.height), focal=self.focal, steps=self.steps(len(dets)),
                              prior=self._prior(frame, people) if weight > 0 else None, prior_weight=weight,
                              carry=self._carry(frame, people) if carry else None, return_carry=carry,
                              landmark_start=self.config.landmark_start == "always",
                              landmark_residual=self.config.landmark_residual, landmark_warm=warm,
                              landmark_allow=[w or p.track_id not in self.landmark_lost for w, p in zip(has_warm, people)],
                              landmark_w_2d=self.config.landmark_w_2d)
        arrays = {k: getattr(res, k).numpy() for k in
                  ("pose", "shape", "transl", "joints", "keypoints3d", "reproj_error", "fallback")}
        bodies = [PersonBody(track_id=p.track_id, frame_index=frame.index, time_s=frame.time_s,
                             pose=arrays["pose"][i], shape=arrays["shape"][i], transl=arrays["transl"][i],
                             joints=arrays["joints"][i], keypoints3d=arrays["keypoints3d"][i],
                             keypoints2d=d.keypoints2d, keypoint_conf=d.keypoint_conf, box=d.box,
                             world_landmarks=d.world_landmarks,
                             reproj_error=float(arrays["reproj_error"][i]), fallback=bool(arrays["fallback"][i]))
                  for i, (p, d) in enumerate(zip(people, dets))]
        for i, b in enumerate(bodies):
            if not b.fallback:
                self.last[b.track_id] = (frame.time_s, res.pose[i], res.shape[i],
                                         None if res.carry is None else (res.carry[0][i], res.carry[1][i]))
            if res.from_landmarks is not None and res.from_landmarks[i]:
                self.landmark[b.track_id] = (frame.time_s, res.pose[i], res.shape[i], res.transl[i])
            elif res.landmark_cold is not None and res.landmark_cold[i]:  # an expensive fit that lost
                self.landmark_lost[b.track_id] = frame.time_s
        return bodies

    def steps(self, people: int) -> int:
        """TTO steps for each of a frame's `people`: the configured (or checkpoint's) steps, cut so
        that people x steps stays within `frame_steps` (at least one step each when steps > 0)."""
        steps = self.fitter.resolve_steps(self.config.steps)
        budget = self.config.frame_steps
        if budget is None or steps == 0:
            return steps
        return max(1, min(steps, int(budget) // max(people, 1)))

    def _prior(self, frame: Frame, people: list[TrackedPerson]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pose [N,J,3,3], shape [N,S], has [N]) from each track's previous body; people without
        one get the rest pose and the body model's neutral shape (and has=False)."""
        body, n = self.fitter.body, len(people)
        pose = torch.eye(3).expand(n, body.num_bones, 3, 3).clone()
        shape = body.neutral_shape(n).cpu()
        has = torch.zeros(n, dtype=torch.bool)
        for i, p in enumerate(people):
            prev = self._previous(frame, p)
            if prev is not None:
                has[i], pose[i], shape[i] = True, prev[1], prev[2]
        return pose, shape, has

    def _previous(self, frame: Frame, person: TrackedPerson) -> tuple | None:
        """The track's last adapted body if it is recent enough to build on (`prior_max_gap_s`)."""
        prev = self.last.get(person.track_id)
        return prev if prev is not None and 0 < frame.time_s - prev[0] <= self.config.prior_max_gap_s else None

    def _landmark_warm(self, frame: Frame, people: list[TrackedPerson]) -> tuple | None:
        """(pose [N,J,3,3], shape [N,S], transl [N,3], has [N]): each person's landmark fit in their
        recent frames (`landmark_warm_s`), where this frame's starts (`Fitter.fit(landmark_warm=)`)."""
        prev = [self.landmark.get(p.track_id) for p in people]
        prev = [v if v is not None and 0 < frame.time_s - v[0] <= self.config.landmark_warm_s else None for v in prev]
        if self.config.landmark_start != "always" or not (self.config.landmark_near or any(v is not None for v in prev)):
            return None
        body, n = self.fitter.body, len(people)
        pose, shape = torch.eye(3).expand(n, body.num_bones, 3, 3).clone(), body.neutral_shape(n).cpu()
        transl, has = torch.zeros(n, 3), torch.zeros(n, dtype=torch.bool)
        for i, v in enumerate(prev):
            if v is not None:
                has[i], pose[i], shape[i], transl[i] = True, v[1], v[2], v[3]
        return pose, shape, transl, has

    def _carry(self, frame: Frame, people: list[TrackedPerson]) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight [N,P,H], bias [N,P]): what each person's steps start from (`Fitter.next_carry` of
        their previous frame's adaptation; zeros for a first frame)."""
        w, b = self.fitter.ckpt.meta.last_layer()
        weight, bias = torch.zeros(len(people), *w.shape), torch.zeros(len(people), *b.shape)
        for i, p in enumerate(people):
            prev = self._previous(frame, p)
            if prev is not None and prev[3] is not None:
                weight[i], bias[i] = prev[3]
        return self.fitter.next_carry((weight, bias), self.config.carry)

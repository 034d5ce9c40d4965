"""Training data from rendered shards (`metahmr_trainer.render_data`): the real detector's output on renders
as the evidence, the rendered body as the target; and mixing data sources in one batch.

    data = RenderedData("~/.cache/metahmr_video/rendered/train")
    ev, target = data.sample(64, torch.Generator().manual_seed(0))     # like SyntheticData.sample
    data = data_source("rendered:DIR", body, rendered_fraction=0.5)    # half of each batch rendered

Evidence is built from each found sample's stored detection exactly as at run time: a `Detection`
(the fields `MultiPersonDetector` produced) -> `evidence_arrays` (what the Adapter stacks) ->
`make_evidence` (what `Fitter.fit` validates and converts), with the true focal length of the
render (as `SyntheticData` gives its evidence the true focal). Samples the detector missed are
left out.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from metahmr_video.core.errors import InputError
from metahmr_video.model.features import Evidence
from metahmr_video.model.losses import Target
from metahmr_video.core.records import Detection


def load_shards(path: str | Path) -> dict[str, np.ndarray]:
    """All samples of the shards (*.npz) in a folder, or of one shard file, concatenated by key."""
    path = Path(path).expanduser()
    files = [path] if path.is_file() else sorted(f for f in path.glob("*.npz") if not f.name.endswith(".tmp.npz"))
    if not files:
        raise InputError(f"no rendered shards (*.npz) in {path}; make them with python -m metahmr_trainer.render_data")
    parts = []
    for f in files:
        with np.load(f) as z:
            parts.append({k: z[k] for k in z.files})
    names = {k for k, v in parts[0].items() if v.ndim == 1 and v.dtype.kind == "U"}  # code -> name lists
    return {k: (parts[0][k] if k in names else np.concatenate([p[k] for p in parts])) for k in parts[0]}


def stored_detection(arrays: dict[str, np.ndarray], i: int) -> Detection:
    """Sample i's detection as the detector returned it (only for found samples)."""
    return Detection(box=arrays["det_box"][i], score=float(arrays["det_score"][i]), keypoints2d=arrays["det_kp2d"][i],
                     keypoint_conf=arrays["det_conf"][i], world_landmarks=arrays["det_world"][i],
                     visibility=arrays["det_vis"][i], presence=arrays["det_pres"][i])


def detection_evidence(det: Detection, image_size: tuple[float, float], focal: float | None) -> Evidence:
    """The product's evidence for one detection (Adapter's `evidence_arrays`, then `make_evidence`)."""
    from metahmr_video.adapt.adapter import evidence_arrays
    from metahmr_video.adapt.fitter import make_evidence

    ev, _ = make_evidence(*evidence_arrays([det]), image_size, focal)
    return ev


def cat_evidence(parts: list[Evidence]) -> Evidence:
    return Evidence(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Evidence)})


def cat_target(parts: list[Target]) -> Target:
    return Target(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Target)})


def mirror_bones(bone_names: list[str]) -> list[int]:
    """For each bone, the index of its left/right counterpart (itself on the midline)."""
    swap = (("Left", "Right"), ("Right", "Left"), ("LHip", "RHip"), ("RHip", "LHip"), ("LThumb", "RThumb"),
            ("RThumb", "LThumb"))
    def other(n: str) -> str:
        for a, b in swap:
            if n.startswith(a):
                return b + n[len(a):]
        return n
    return [bone_names.index(other(n)) for n in bone_names]


def mirror_samples(a: dict[str, np.ndarray], bone_perm: list[int]) -> dict[str, np.ndarray]:
    """The samples seen in a mirror: the image flipped left-right about its centre (x -> W - x,
    camera X -> -X), every left/right landmark and bone label exchanged. Bone rotations (Anny's
    world-aligned local-ref axes, bone 0 the orientation in the camera frame) become M R M with
    M = diag(-1, 1, 1); the fitting body posed so matches the mirrored joints to 2 mm (Anny's
    skeleton is symmetric up to that). The detector's output is mirrored too, which stands for
    running it on the flipped image."""
    from metahmr_video.core.layout import MEDIAPIPE_33, mirror_index

    lm = mirror_index(MEDIAPIPE_33)
    m = np.array([-1.0, 1.0, 1.0], np.float32)
    width = a["image_size"][:, :1].astype(np.float32)
    flip2d = lambda xy: np.stack([width - xy[..., 0], xy[..., 1]], -1)  # noqa: E731  [N,K,2]
    out = dict(a)
    for k in ("det_conf", "det_vis", "det_pres", "inside", "occluded", "visible"):
        if k in a:
            out[k] = a[k][:, lm]
    out["det_kp2d"], out["kp2d"] = flip2d(a["det_kp2d"])[:, lm], flip2d(a["kp2d"])[:, lm]
    out["det_world"], out["keypoints3d"] = (a["det_world"] * m)[:, lm], (a["keypoints3d"] * m)[:, lm]
    box = a["det_box"]
    out["det_box"] = np.stack([width[:, 0] - box[:, 2], box[:, 1], width[:, 0] - box[:, 0], box[:, 3]], -1)
    out["joints"], out["transl"] = (a["joints"] * m)[:, bone_perm], a["transl"] * m
    out["pose"] = (m[:, None] * a["pose"][:, bone_perm] * m[None, :]).astype(np.float32)
    return out


class RenderedData:
    """(Evidence, Target) batches drawn with replacement from the found samples of rendered shards.

    path: a shard folder or file. Keeps `arrays` (every stored key, found samples only, row i =
    evidence row i; the name lists as they are), e.g. for per-landmark truth flags of a batch:
    `idx = data.draw(64, g); ev, target = data.rows(idx); visible = data.arrays["visible"][idx]`.
    mirror_with: a body (its bone names): add every sample's mirror image (`mirror_samples`) as
    a second row, doubling the data.
    """

    def __init__(self, path: str | Path, mirror_with=None) -> None:
        arrays = load_shards(path)
        found = arrays["found"].astype(bool)
        if not found.any():
            raise InputError(f"the rendered shards in {path} hold no detected person")
        a = {k: v[found] for k, v in arrays.items() if v.dtype.kind != "U"}
        if mirror_with is not None:
            mirrored = mirror_samples(a, mirror_bones(list(mirror_with.bone_names)))
            a = {k: np.concatenate([v, mirrored[k]]) for k, v in a.items()}
        a.update({k: v for k, v in arrays.items() if v.dtype.kind == "U"})
        self.arrays = a
        self.evidence = cat_evidence([detection_evidence(stored_detection(a, i), tuple(a["image_size"][i]),
                                                         float(a["focal"][i])) for i in range(len(a["found"]))])
        t = lambda k: torch.from_numpy(np.ascontiguousarray(a[k])).float()  # noqa: E731
        self.target = Target(pose=t("pose"), shape=t("shape"), transl=t("transl"), joints=t("joints"), kp2d=t("kp2d"))

    def __len__(self) -> int:
        return len(self.evidence)

    def draw(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[batch] random row indices (with replacement) into `evidence`, `target` and `arrays`."""
        return torch.randint(0, len(self), (batch,), generator=generator)

    def rows(self, idx: torch.Tensor) -> tuple[Evidence, Target]:
        return self.evidence.index(idx), self.target.index(idx)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> tuple[Evidence, Target]:
        return self.rows(self.draw(batch, generator))


class MixedData:
    """Each batch split between data sources in fixed proportions (largest remainders), concatenated."""

    def __init__(self, sources: list, fractions: list[float]) -> None:
        total = float(sum(fractions))
        if not sources or len(sources) != len(fractions) or total <= 0 or min(fractions) < 0:
            raise InputError("MixedData needs one non-negative fraction per source, not all zero")
        self.sources, self.fractions = sources, [f / total for f in fractions]

    def counts(self, batch: int) -> list[int]:
        raw = [batch * f for f in self.fractions]
        n = [int(r) for r in raw]
        for k in sorted(range(len(raw)), key=lambda k: n[k] - raw[k])[: batch - sum(n)]:
            n[k] += 1
        return n

    def sample(self, batch: int, generator: torch.Generator | None = None) -> tuple[Evidence, Target]:
        parts = [s.sample(n, generator) for s, n in zip(self.sources, self.counts(batch)) if n > 0]
        return cat_evidence([p[0] for p in parts]), cat_target([p[1] for p in parts])


def data_source(spec: str, body, rendered_fraction: float = 0.5, mirror: bool = False, truncated: float = 0.0):
    """A training data source from its spec: "synthetic" (`SyntheticData`, with `truncated` of its
    people cut off by the frame) or "rendered:DIR" (`RenderedData`, with mirror images if `mirror`,
    for `rendered_fraction` of each batch, `SyntheticData` for the rest)."""
    from metahmr_trainer.data import SyntheticData

    if spec == "synthetic":
        return SyntheticData(body, truncated=truncated)
    if spec.startswith("rendered:"):
        if body.model_id != "anny":
            raise InputError(f"rendered training data holds Anny bodies; it cannot train a {body.name} checkpoint")
        if not 0.0 <= rendered_fraction <= 1.0:
            raise InputError(f"rendered fraction must be in [0, 1], got {rendered_fraction}")
        rendered = RenderedData(spec.split(":", 1)[1], mirror_with=body if mirror else None)
        if rendered_fraction == 1.0:
            return rendered
        return MixedData([rendered, SyntheticData(body, truncated=truncated)], [rendered_fraction, 1.0 - rendered_fraction])
    raise InputError(f"unknown training data {spec!r}: expected 'synthetic' or 'rendered:DIR'")

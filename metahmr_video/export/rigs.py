"""Motion carried from the fitted skeleton (Anny's `cmu_mb`) onto another Anny rig of the same body.

`RIGS`: `mixamo` (52 bones named as Mixamo's, `mixamorig:Hips`, ...) and `game_engine` (53 bones named
as Unreal's mannequin: `Root`, `pelvis`, `spine_01`, ..., `hand_l`, fingers). Both skin the same Anny
mesh as `cmu_mb` but place some joints elsewhere (Mixamo's hips and spine joints, its clavicles) and
have bones `cmu_mb` lacks (three-segment fingers), so rotations cannot be copied bone by bone.

Frames: rest heads and tails are in Anny's body frame (Z up, facing -Y, metres) for one phenotype
vector. Rotations are world-aligned local rotations (Anny's local-ref: G_c = G_parent R_c, joint
J_c = J_parent + G_parent (rest_c - rest_parent)); the root's maps the rest frame into the posed frame,
here the camera frame (OpenCV, y down). Posed positions are relative to the source root joint.

How (`retarget`): each target bone's rest head and tail is a marker glued to the nearest source bone
(rest point-to-segment distance) and moved with it. Markers glued to different source bones stretch
or shrink where the source bends between them, so they are first moved the least (Gauss-Seidel
distance projections, `LENGTH_ITERATIONS` sweeps) until each target bone's points keep their rest
distances. Then, from the root down, each target bone's world rotation is the weighted least-squares
rotation (Wahba's problem, `roma.special_procrustes`) taking its rest vectors to its tail and its
children's heads onto those markers as seen from its posed head. Markers that coincide with a source
joint weigh `EXACT_WEIGHT` times the others (in both steps), and the rotation of the source bone
nearest to the target bone's middle enters with weight `TWIST_WEIGHT` (relative to the squared bone
length) to fix the twist about the bone. The root also gets its position from that fit (Kabsch). A
root bone that deforms nothing (game_engine's `Root`, at the feet) stands upright along the camera's
up axis below the first deforming bone, turned to its heading (in the world, the export then puts it
on the ground: `animation.root_on_ground`).
Measured residuals: docs/export.md ("Game-engine rigs").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import roma
import torch

RIGS = ("mixamo", "game_engine")
EXACT_WEIGHT = 100.0
TWIST_WEIGHT = 1e-4
LENGTH_ITERATIONS = 100
_CAMERA_UP = (0.0, -1.0, 0.0)   # OpenCV camera frame: y points down
_SAME_POINT_M = 1e-4


@dataclass
class Skeleton:
    """A rest skeleton in Anny's body frame: bone names, parents (-1 for the root, parents first),
    heads and tails [J, 3] metres, and which bones deform the mesh (any skinning weight) [J] bool."""

    names: list[str]
    parents: list[int]
    heads: np.ndarray
    tails: np.ndarray
    deforming: np.ndarray


def world_rotations(local: torch.Tensor, parents: list[int]) -> torch.Tensor:
    """[..., J, 3, 3] world-aligned local rotations -> each bone's rotation from rest to posed."""
    out: list[torch.Tensor] = []
    for c, p in enumerate(parents):
        out.append(local[..., c, :, :] if p < 0 else out[p] @ local[..., c, :, :])
    return torch.stack(out, -3)


def forward_kinematics(local: torch.Tensor, root: torch.Tensor, skeleton: Skeleton) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed heads and tails [T, J, 3] of `skeleton` for local rotations [T, J, 3, 3] and the root
    head's position root [T, 3] (same frame as the root rotation's output)."""
    g = world_rotations(local, skeleton.parents)
    heads0 = torch.as_tensor(skeleton.heads, dtype=local.dtype)
    tails0 = torch.as_tensor(skeleton.tails, dtype=local.dtype)
    heads: list[torch.Tensor] = []
    for c, p in enumerate(skeleton.parents):
        heads.append(root if p < 0 else heads[p] + g[:, p] @ (heads0[c] - heads0[p]))
    h = torch.stack(heads, 1)
    return h, h + (g @ (tails0 - heads0)[..., None])[..., 0]


def _nearest_bones(points: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """For points [N, 3], the index of the bone whose rest segment (head to tail) is nearest."""
    a, ab = skeleton.heads[None], (skeleton.tails - skeleton.heads)[None]
    u = np.clip(((points[:, None] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points[:, None] - (a + u[..., None] * ab), axis=-1).argmin(1)


def _upright(g_body: torch.Tensor) -> torch.Tensor:
    """[T, 3, 3] rotations taking Anny's rest frame to 'upright along the camera's up axis, facing the
    heading of g_body' (the rest forward axis -Y turned by g_body, made horizontal)."""
    up = torch.tensor(_CAMERA_UP, dtype=g_body.dtype).expand(g_body.shape[0], 3)
    fwd = -g_body[:, :, 1]
    fwd = fwd - (fwd * up).sum(-1, keepdim=True) * up
    fwd = fwd / fwd.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    y = -fwd
    return torch.stack([torch.cross(y, up, dim=-1), y, up], -1)


@dataclass
class Markers:
    """Where a target skeleton's joints should be, frame by frame (see the module docstring): head and
    tail markers [T, Jt, 3] (metres, relative to the source root joint), their weights [Jt], and the
    twist reference: the nearest source bone's world rotation [T, Jt, 3, 3] with its weight [Jt]."""

    head: torch.Tensor
    tail: torch.Tensor
    head_weight: torch.Tensor
    tail_weight: torch.Tensor
    twist_rotation: torch.Tensor
    twist_weight: torch.Tensor


def glue_markers(pose: torch.Tensor, source: Skeleton, target: Skeleton) -> Markers:
    """Target rest heads and tails glued to the nearest source bones, moved by the source pose
    [T, Js, 3, 3] (float64)."""
    dtype = pose.dtype
    g_src = world_rotations(pose, source.parents)
    j_src, _ = forward_kinematics(pose, torch.zeros(pose.shape[0], 3, dtype=dtype), source)
    s_heads = torch.as_tensor(source.heads, dtype=dtype)

    def glue(points: np.ndarray) -> torch.Tensor:
        b = torch.as_tensor(_nearest_bones(points, source))
        rel = torch.as_tensor(points, dtype=dtype) - s_heads[b]
        return j_src[:, b] + (g_src[:, b] @ rel[..., None])[..., 0]

    def weight(points: np.ndarray) -> torch.Tensor:
        d = np.linalg.norm(points[:, None] - source.heads[None], axis=-1).min(1)
        return torch.as_tensor(np.where(d < _SAME_POINT_M, EXACT_WEIGHT, 1.0), dtype=dtype)

    length2 = ((target.tails - target.heads) ** 2).sum(-1)
    w_head, w_tail = weight(target.heads), weight(target.tails)
    head, tail = _keep_lengths(glue(target.heads), glue(target.tails), w_head, w_tail, target)
    return Markers(head, tail, w_head, w_tail,
                   g_src[:, torch.as_tensor(_nearest_bones((target.heads + target.tails) / 2, source))],
                   torch.as_tensor(TWIST_WEIGHT * length2, dtype=dtype))


def _keep_lengths(head: torch.Tensor, tail: torch.Tensor, w_head: torch.Tensor, w_tail: torch.Tensor,
                  target: Skeleton, iterations: int = LENGTH_ITERATIONS) -> tuple[torch.Tensor, torch.Tensor]:
    """Markers moved the least (weighted) so that each deforming bone's points (head, tail, children's
    heads) keep their rest distances: glued to different source bones, they stretch or shrink where the
    source bends between them. Gauss-Seidel sweeps of pairwise distance projections, each pair's
    correction split by inverse weight; pairs are grouped so that no two in a group share a point."""
    n = len(target.parents)
    rest = np.concatenate([target.heads, target.tails])
    inv = (1.0 / torch.cat([w_head, w_tail])).numpy()
    pairs: dict[tuple[int, int], float] = {}
    for b in np.nonzero(target.deforming)[0]:
        pts = [b, n + b] + [c for c, p in enumerate(target.parents) if p == b]
        for i in range(len(pts)):
            for k in range(i + 1, len(pts)):
                pairs[(pts[i], pts[k])] = float(np.linalg.norm(rest[pts[k]] - rest[pts[i]]))
    groups: list[list[tuple[int, int, float]]] = []
    used: list[set[int]] = []
    for (i, k), length in pairs.items():
        g = next((g for g, u in enumerate(used) if i not in u and k not in u), len(groups))
        if g == len(groups):
            groups.append([])
            used.append(set())
        groups[g].append((i, k, length))
        used[g].update((i, k))
    sweeps = []
    for group in groups:
        i, k, length = (list(v) for v in zip(*group))
        share = torch.as_tensor(inv[i] / (inv[i] + inv[k]), dtype=head.dtype)[:, None, None]
        sweeps.append((torch.as_tensor(i), torch.as_tensor(k), torch.as_tensor(length, dtype=head.dtype)[:, None, None], share))
    x = torch.cat([head, tail], 1).transpose(0, 1).contiguous()                    # [2n, T, 3]
    for _ in range(iterations):
        for i, k, length, share in sweeps:
            d = x[k] - x[i]
            corr = (1.0 - length / d.norm(dim=-1, keepdim=True).clamp(min=1e-12)) * d
            x[i] += corr * share
            x[k] -= corr * (1.0 - share)
    x = x.transpose(0, 1)
    return x[:, :n], x[:, n:]


def solve(markers: Markers, target: Skeleton) -> tuple[torch.Tensor, torch.Tensor]:
    """The target pose closest to the markers, bone by bone from the root down (see the module
    docstring): local rotations [T, Jt, 3, 3] and the root head's position [T, 3]."""
    mk = markers
    dtype = mk.head.dtype
    th, tt = torch.as_tensor(target.heads, dtype=dtype), torch.as_tensor(target.tails, dtype=dtype)
    parents = target.parents
    root = parents.index(-1)
    carrier = root if not target.deforming[root] else None
    children = [[c for c, q in enumerate(parents) if q == b] for b in range(len(parents))]
    g: list[torch.Tensor | None] = [None] * len(parents)
    joint: list[torch.Tensor | None] = [None] * len(parents)
    for b, p in enumerate(parents):
        if b == carrier:
            continue
        # Bone b's points: its own head (body root only), its tail, its children's heads.
        own = [b] if p in (-1, carrier) else []
        kids = children[b]
        rest = torch.stack([th[c] for c in own] + [tt[b]] + [th[c] for c in kids])                  # [K, 3]
        posed = torch.stack([mk.head[:, c] for c in own] + [mk.tail[:, b]] + [mk.head[:, c] for c in kids], 1)
        w = torch.stack([mk.head_weight[c] for c in own] + [mk.tail_weight[b]] + [mk.head_weight[c] for c in kids])
        prior = mk.twist_weight[b] * mk.twist_rotation[:, b]
        if own:       # the body's root: rotation and position (Kabsch)
            rest_c = (w[:, None] * rest).sum(0) / w.sum()
            posed_c = torch.einsum("k,tki->ti", w, posed) / w.sum()
            g[b] = roma.special_procrustes(torch.einsum("k,tki,kj->tij", w, posed - posed_c[:, None], rest - rest_c) + prior)
            joint[b] = posed_c + (g[b] @ (th[b] - rest_c)[..., None])[..., 0]
        else:
            joint[b] = joint[p] + (g[p] @ (th[b] - th[p])[..., None])[..., 0]
            g[b] = roma.special_procrustes(torch.einsum("k,tki,kj->tij", w, posed - joint[b][:, None], rest - th[b]) + prior)
    if carrier is not None:
        body = children[carrier]
        if len(body) != 1:
            raise ValueError(f"rig root {target.names[carrier]!r} deforms nothing and has {len(body)} children")
        g[carrier] = _upright(g[body[0]])
        joint[carrier] = joint[body[0]] - (g[carrier] @ (th[body[0]] - th[carrier])[..., None])[..., 0]
    local = torch.stack([g[c] if p < 0 else g[p].transpose(-1, -2) @ g[c] for c, p in enumerate(parents)], 1)
    return local, joint[root]


def retarget(pose: np.ndarray, source: Skeleton, target: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Carry a motion from `source` onto `target` (the same body, see the module docstring).

    pose: [T, Js, 3, 3] source world-aligned local rotations (the root's: rest -> camera frame).
    Returns the target's local rotations [T, Jt, 3, 3] and its root head's position [T, 3], metres,
    relative to the source root joint (add the results' `transl` for camera coordinates).
    """
    with torch.no_grad():
        local, root = solve(glue_markers(torch.as_tensor(pose, dtype=torch.float64), source, target), target)
    return local.numpy(), root.numpy()

"""Held feet by bending the legs: a two-bone inverse kinematics for hip, knee and ankle.

A planted foot that should stay where it is (`feet.lock_offsets`) is moved there by its own leg,
not by shifting the whole body: the thigh and shin turn (about the hip, then the knee, within the
leg's own bending plane) until the ankle reaches its target, and the foot keeps its orientation,
so the foot's points translate rigidly. Only the leg's points move in the image, not the body's
(E71). Rotations follow `metahmr_video.export.animation`'s convention: local rotations R_c with
G_c = G_parent @ R_c; all positions here in one frame (metres)."""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

Leg = tuple[int, int, int]  # joint indices of the hip (thigh's head), knee (shin's head) and ankle (foot's head)


def leg_chains(names: list[str], leg_joints: tuple[tuple[str, str, str], ...]) -> list[Leg] | None:
    """Each leg's (hip, knee, ankle) indices in the joint `names`, from their names (a body family's
    `leg_joints`); None when one is missing."""
    if not all(n in names for leg in leg_joints for n in leg):
        return None
    return [(names.index(hip), names.index(knee), names.index(ankle)) for hip, knee, ankle in leg_joints]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """[T,3,3] rotations by `angle` [T] radians about unit `axis` [T,3]."""
    return Rotation.from_rotvec(axis * angle[:, None]).as_matrix()


def _between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[T,3,3] the smallest rotations turning directions a [T,3] onto b [T,3]."""
    a, b = _unit(a), _unit(b)
    cross = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(cross, axis=-1), (a * b).sum(-1))
    return _rotation(_unit(cross), angle)


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray,
                forward: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotations that put the ankle on `target`: d_knee [T,3,3] turns the shin about the knee, then
    d_hip [T,3,3] the whole leg about the hip; returns them and the ankle reached [T,3] (the target,
    or as near as the leg's length allows). All [T,3] points in one frame, metres; `forward` [T,3]
    the foot's direction, which says which way a straight knee bends (forwards)."""
    thigh, shin = hip - knee, ankle - knee
    a, b = np.linalg.norm(thigh, axis=-1), np.linalg.norm(shin, axis=-1)
    reach = np.clip(np.linalg.norm(target - hip, axis=-1), np.abs(a - b) + 1e-4, (a + b) * 0.9995)
    now = np.arccos(np.clip((_unit(thigh) * _unit(shin)).sum(-1), -1.0, 1.0))
    wanted = np.arccos(np.clip((a * a + b * b - reach * reach) / (2 * a * b), -1.0, 1.0))
    normal = np.cross(thigh, shin)
    straight = np.linalg.norm(normal, axis=-1) < 0.05 * a * b  # within ~3 degrees of straight
    normal[straight] = -np.cross(thigh[straight], forward[straight])  # a knee bends forwards
    d_knee = _rotation(_unit(normal), wanted - now)  # about the bending plane's normal: opens the knee
    bent = knee + np.einsum("tij,tj->ti", d_knee, shin)
    d_hip = _between(bent - hip, target - hip)
    reached = hip + np.einsum("tij,tj->ti", d_hip, bent - hip)
    return d_hip, d_knee, reached


def _subtree(parents: list[int], root: int) -> np.ndarray:
    """[J] bool: `root` and its descendants (parents before children)."""
    inside = np.zeros(len(parents), bool)
    inside[root] = True
    for c, p in enumerate(parents):
        if p >= 0 and inside[p]:
            inside[c] = True
    return inside


def bend_legs(pose: np.ndarray, joints: np.ndarray, parents: list[int], legs: list[Leg], targets: np.ndarray,
              forward: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each leg's ankle moved to its target, the foot keeping its orientation.

    pose [T,B,3,3] local rotations (`pose[:, root]` global, camera frame); joints [T,J,3] posed, in
    the targets' frame (J >= B: points after the bones, such as smplx's extra vertex points, follow
    the nearest bone head); legs: (hip, knee, ankle) chains, each bone the previous one's child;
    targets [T,L,3] where each leg's ankle should be (NaN: leave it); forward [T,L,3] each foot's
    direction; `frame` [3,3] the camera -> targets' frame rotation. Returns (pose, joints) with the
    legs bent; local rotations do not depend on the frame, so `pose` stays the camera's."""
    pose, joints = pose.astype(np.float64).copy(), joints.astype(np.float64).copy()
    num_bones = len(parents)
    g = np.empty_like(pose)
    for c, p in enumerate(parents):
        g[:, c] = frame @ pose[:, c] if p < 0 else g[:, p] @ pose[:, c]
    heads = joints[:, :num_bones]
    extra = np.argmin(np.linalg.norm(np.median(joints[:, num_bones:, None] - heads[:, None], axis=0), axis=-1), 1)
    for leg, (hip, knee, ankle) in enumerate(legs):
        ok = np.isfinite(targets[:, leg]).all(-1)
        if not ok.any():
            continue
        h, k, a = joints[ok, hip], joints[ok, knee], joints[ok, ankle]
        d_hip, d_knee, reached = two_bone_ik(h, k, a, targets[ok, leg], forward[ok, leg])
        g_hip, g_knee = d_hip @ g[ok, hip], d_hip @ d_knee @ g[ok, knee]
        pose[ok, hip] = g[ok, parents[hip]].transpose(0, 2, 1) @ g_hip
        pose[ok, knee] = g_hip.transpose(0, 2, 1) @ g_knee
        pose[ok, ankle] = g_knee.transpose(0, 2, 1) @ g[ok, ankle]  # the foot keeps its global rotation
        g[ok, hip], g[ok, knee] = g_hip, g_knee
        move = np.zeros((int(ok.sum()), num_bones, 3))
        foot = _subtree(parents, ankle)
        move[:, foot] = (reached - a)[:, None]
        move[:, _subtree(parents, knee) & ~foot] = (h + np.einsum("tij,tj->ti", d_hip, k - h) - k)[:, None]
        joints[ok, :num_bones] += move
        joints[ok, num_bones:] += move[:, extra]
    return pose, joints

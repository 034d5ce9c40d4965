"""Builds small but valid SMPL / SMPL-X format model files for tests (the real ones are licensed).

SMPL: a 24-joint SMPL kinematic tree with 6,890 vertices (so smplx's fixed extra-vertex ids exist),
each vertex rigidly attached to one joint (one-hot skinning weights), a joint regressor that
averages each joint's vertices, random shape blend shapes and zero (or small random) pose blend shapes.
SMPL-X: the same construction with SMPL-X's 55 joints (body, jaw, eyes, 2 x 15 finger joints) and
10,475 vertices, plus hand PCA components and means and face landmarks, written as .npz.
These bodies are stick-figure clouds, not human surfaces: they exercise the code paths only.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
# Rest joint positions (Y-up, facing +Z, metres), roughly a human in T-pose.
SMPL_JOINTS = np.array([
    [0, 0, 0], [0.06, -0.09, 0], [-0.06, -0.09, 0], [0, 0.11, -0.02], [0.1, -0.47, 0], [-0.1, -0.47, 0],
    [0, 0.25, 0], [0.09, -0.87, -0.04], [-0.09, -0.87, -0.04], [0, 0.3, 0.02], [0.11, -0.93, 0.08],
    [-0.11, -0.93, 0.08], [0, 0.51, -0.01], [0.08, 0.42, 0], [-0.08, 0.42, 0], [0, 0.6, 0.04],
    [0.18, 0.44, -0.01], [-0.18, 0.44, -0.01], [0.43, 0.43, -0.03], [-0.43, 0.43, -0.03],
    [0.68, 0.44, -0.03], [-0.68, 0.44, -0.03], [0.76, 0.43, -0.04], [-0.76, 0.43, -0.04],
], dtype=np.float64)
NUM_VERTICES = 6890
# SMPL-X: body joints 0-21 as SMPL's, jaw and eyes under the head, 3 joints per finger under the wrists.
SMPLX_PARENTS = SMPL_PARENTS[:22] + [15, 15, 15] + [
    p for hand in (20, 21) for finger in range(5) for p in (hand, 25 + 15 * (hand - 20) + 3 * finger,
                                                            26 + 15 * (hand - 20) + 3 * finger)]
SMPLX_NUM_VERTICES = 10475


def _smplx_joints() -> np.ndarray:
    joints = [*SMPL_JOINTS[:22], [0, 0.56, 0.08], [0.03, 0.65, 0.09], [-0.03, 0.65, 0.09]]
    for side, wrist in ((1, SMPL_JOINTS[20]), (-1, SMPL_JOINTS[21])):
        for finger in range(5):
            for k in range(3):
                joints.append(wrist + [side * (0.04 + 0.025 * k), 0.0, 0.02 * (finger - 2)])
    return np.array(joints, dtype=np.float64)


def _rigid_body(rng, joints: np.ndarray, parents: list[int], num_vertices: int, num_shape: int,
                pose_correctives: float) -> dict:
    num_joints = len(joints)
    owner = np.arange(num_vertices) % num_joints
    v_template = joints[owner] + rng.normal(scale=0.03, size=(num_vertices, 3))
    weights = np.zeros((num_vertices, num_joints))
    weights[np.arange(num_vertices), owner] = 1.0
    j_regressor = weights.T / weights.sum(0)[:, None]
    shapedirs = rng.normal(scale=0.01, size=(num_vertices, 3, num_shape))
    posedirs = rng.normal(scale=pose_correctives, size=(num_vertices, 3, 9 * (num_joints - 1))) \
        if pose_correctives else np.zeros((num_vertices, 3, 9 * (num_joints - 1)))
    faces = np.stack([np.arange(0, num_vertices - 48), np.arange(24, num_vertices - 24),
                      np.arange(48, num_vertices)], axis=1).astype(np.int64)
    kintree = np.array([[4294967295] + parents[1:], list(range(num_joints))], dtype=np.int64)
    return dict(v_template=v_template, shapedirs=shapedirs, posedirs=posedirs, J_regressor=j_regressor,
                weights=weights, kintree_table=kintree, f=faces)


def build_smpl_dict(seed: int = 0, num_betas: int = 10, pose_correctives: float = 0.0) -> dict:
    """The arrays of an SMPL model file (keys as in the official SMPL pickle)."""
    return _rigid_body(np.random.default_rng(seed), SMPL_JOINTS, SMPL_PARENTS, NUM_VERTICES, num_betas,
                       pose_correctives)


def write_smpl_pkl(path: Path, seed: int = 0, pose_correctives: float = 0.0) -> Path:
    """Write a test SMPL model as a pickle, as the official files are."""
    with open(path, "wb") as f:
        pickle.dump(build_smpl_dict(seed, pose_correctives=pose_correctives), f)
    return path


def build_smplx_dict(seed: int = 0, pose_correctives: float = 0.0) -> dict:
    """The arrays of an SMPL-X .npz model file (10 shape + 10 expression directions: smplx accepts
    fewer than the official 300 + 100 and then uses 10 of each)."""
    rng = np.random.default_rng(seed)
    data = _rigid_body(rng, _smplx_joints(), SMPLX_PARENTS, SMPLX_NUM_VERTICES, 20, pose_correctives)
    data["posedirs"] = data["posedirs"].astype(np.float32)
    faces = data["f"]
    data.update(hands_componentsl=np.linalg.qr(rng.normal(size=(45, 45)))[0],
                hands_componentsr=np.linalg.qr(rng.normal(size=(45, 45)))[0],
                hands_meanl=rng.normal(scale=0.2, size=45), hands_meanr=rng.normal(scale=0.2, size=45),
                lmk_faces_idx=rng.integers(0, len(faces), size=51),
                lmk_bary_coords=np.full((51, 3), 1.0 / 3.0))
    return data


def write_smplx_npz(path: Path, seed: int = 0, pose_correctives: float = 0.0) -> Path:
    """Write a test SMPL-X model as .npz, as the official SMPLX_*.npz files are."""
    np.savez(path, **build_smplx_dict(seed, pose_correctives))
    return path

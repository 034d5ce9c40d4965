"""Builds small but valid SMPL-format model files for tests (the real ones are licensed).

The body is a 24-joint SMPL kinematic tree with 6,890 vertices (so smplx's fixed extra-vertex ids
exist), each vertex rigidly attached to one joint (one-hot skinning weights), a joint regressor that
averages each joint's vertices, random shape blend shapes and zero pose blend shapes.
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


def build_smpl_dict(seed: int = 0, num_betas: int = 10) -> dict:
    """The arrays of an SMPL model file (keys as in the official SMPL pickle)."""
    rng = np.random.default_rng(seed)
    owner = np.arange(NUM_VERTICES) % 24
    v_template = SMPL_JOINTS[owner] + rng.normal(scale=0.03, size=(NUM_VERTICES, 3))
    weights = np.zeros((NUM_VERTICES, 24))
    weights[np.arange(NUM_VERTICES), owner] = 1.0
    j_regressor = weights.T / weights.sum(0)[:, None]
    shapedirs = rng.normal(scale=0.01, size=(NUM_VERTICES, 3, num_betas))
    posedirs = np.zeros((NUM_VERTICES, 3, 207))
    faces = np.stack([np.arange(0, NUM_VERTICES - 48), np.arange(24, NUM_VERTICES - 24),
                      np.arange(48, NUM_VERTICES)], axis=1).astype(np.int64)
    kintree = np.array([[4294967295] + SMPL_PARENTS[1:], list(range(24))], dtype=np.int64)
    return dict(v_template=v_template, shapedirs=shapedirs, posedirs=posedirs, J_regressor=j_regressor,
                weights=weights, kintree_table=kintree, f=faces)


def write_smpl_pkl(path: Path, seed: int = 0) -> Path:
    """Write a test SMPL model as a pickle, as the official files are."""
    with open(path, "wb") as f:
        pickle.dump(build_smpl_dict(seed), f)
    return path

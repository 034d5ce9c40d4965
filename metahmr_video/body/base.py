"""`BodyModel`: what every body family provides (`AnnyBody`, `SmplBody`), so that callers never ask
which family they hold. Frames and units are each family's (see its module docstring): metres, its
own rest frame, `cam_from_body` turning an upright body facing the camera into the OpenCV camera frame.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from metahmr_video.body.output import BodyOutput


@dataclass
class RestSkeleton:
    """A body's rest pose for one shape, in its family's rest frame, metres (float64).

    names / parents [J] (-1 for the root, parents before children); heads [J, 3] joint positions;
    tails [J, 3] bone ends, or None (derive them from the children); z_axes [J, 3] each bone's rest
    Z axis as its rig defines it, or None; deforming [J] whether a bone moves mesh vertices, or None;
    root_offset [3] the posed root is `transl + root_offset` (None: `transl` is the root itself).
    Mesh (all None without one): vertices [V, 3], faces [F, 3] int64, skin_indices [V, K] int64 bone
    indices with skin_weights [V, K] summing to 1.
    """

    names: list[str]
    parents: list[int]
    heads: np.ndarray
    tails: np.ndarray | None = None
    z_axes: np.ndarray | None = None
    deforming: np.ndarray | None = None
    root_offset: np.ndarray | None = None
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    skin_indices: np.ndarray | None = None
    skin_weights: np.ndarray | None = None


class BodyModel(nn.Module, ABC):
    """One body family, batched over people. `forward(pose [B, num_bones, 3, 3], shape [B, num_shape],
    transl [B, 3] metres)` returns a `BodyOutput`. Class level: the names it is stored under in a
    results file (`meta["body_model"]`) and the encoding of its parameters there (`encode`/`decode`).
    """

    stored_names: ClassVar[tuple[str, ...]]  # the values of meta["body_model"] this family writes
    param_keys: ClassVar[tuple[str, ...]]    # its parameter arrays' keys in a results NPZ track
    cam_from_body: ClassVar[torch.Tensor]    # [3, 3] rest frame -> OpenCV camera, body facing the camera
    retargetable: ClassVar[bool] = False     # export's `rig` option applies: rest_skeleton(..., rig=) works
    leg_joints: ClassVar[tuple[tuple[str, str, str], ...]]  # (hip, knee, ankle) joint names, left leg then right
    model_path: Path | None = None           # the user's model file, None when the body ships with us

    name: str                        # this body's meta["body_model"], one of `stored_names`
    model_id: str                    # the body a checkpoint is trained for
    joint_names: list[str]           # names of `BodyOutput.joints`
    parents: list[int]               # parent of each joint, -1 for the root
    num_bones: int                   # rotations in `pose` (the first joints)
    num_shape: int                   # entries of `shape`
    shape_names: list[str]           # their names (empty when they have none)
    standard_joint_indices: list[int]  # `joints` rows of `core.layout.STANDARD_JOINTS`
    keypoint_mask: torch.Tensor      # [33] 1 where the MediaPipe landmark is defined on this body

    @abstractmethod
    def forward(self, pose: torch.Tensor, shape: torch.Tensor | None = None,
                transl: torch.Tensor | None = None, return_vertices: bool = True) -> BodyOutput:
        """Pose the body; see the family's `forward`."""

    @abstractmethod
    def rest_skeleton(self, shape: np.ndarray, with_mesh: bool = False) -> RestSkeleton:
        """The first `num_bones` joints' rest skeleton for `shape` [num_shape] (and the skinned mesh)."""

    @classmethod
    @abstractmethod
    def encode(cls, pose: np.ndarray, shape: np.ndarray) -> dict[str, np.ndarray]:
        """A track's results arrays, keyed by `param_keys`, from pose [T, num_bones, 3, 3] and shape [T, S]."""

    @classmethod
    @abstractmethod
    def decode(cls, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """pose [T, num_bones, 3, 3] and shape [T, S] from the arrays `encode` wrote."""

    @classmethod
    @abstractmethod
    def for_results(cls, meta: dict, num_shape: int, model_path: Path | None = None) -> BodyModel | None:
        """The body a results file was made with (meta: its meta), or None when its model file is not at hand."""

    @classmethod
    @abstractmethod
    def default_skeleton(cls, num_bones: int) -> tuple[list[str], list[int]]:
        """Names and parents of the family's first `num_bones` joints, with no model at hand."""

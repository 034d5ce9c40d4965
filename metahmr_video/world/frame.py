"""A gravity-aligned world for a static camera: world Y up, the ground at y = 0, the origin on the
ground below the camera, world -Z the camera's viewing direction projected on the ground (so X
is the camera's right, levelled). Camera frame: OpenCV (x right, y down, z forward), metres."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WorldFrame:
    """up [3]: the world's up direction in camera coordinates (unit); height_m: the camera's height
    above the ground (metres). `rotation` [3,3] turns camera-frame vectors into world ones."""

    up: np.ndarray
    height_m: float

    @property
    def rotation(self) -> np.ndarray:
        """[3,3] camera -> world rotation (rows: world X, Y, Z in camera coordinates)."""
        y = np.asarray(self.up, np.float64) / np.linalg.norm(self.up)
        forward = np.array([0.0, 0.0, 1.0]) - y[2] * y
        if np.linalg.norm(forward) < 1e-6:  # looking straight down or up: keep the image's "up" as -Z
            forward = np.array([0.0, -1.0, 0.0]) - y[1] * y
        z = -forward / np.linalg.norm(forward)
        return np.stack([np.cross(y, z), y, z])

    @property
    def camera_to_world(self) -> np.ndarray:
        """[4,4] homogeneous camera -> world transform (metres)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[1, 3] = self.height_m
        return m

    @property
    def pitch_deg(self) -> float:
        """The optical axis' angle above the horizon (negative: looking down), degrees."""
        return float(np.degrees(np.arcsin(np.clip(self.up[2] / np.linalg.norm(self.up), -1.0, 1.0))))

    @property
    def roll_deg(self) -> float:
        """Rotation about the optical axis after pitch (yaw-pitch-roll): the angle, in the image, of
        the world's up from the image's up, positive towards the image's right; degrees."""
        return float(np.degrees(np.arctan2(self.up[0], -self.up[1])))

    def points(self, p: np.ndarray) -> np.ndarray:
        """[..., 3] camera-frame points -> world points (metres)."""
        return np.asarray(p, np.float64) @ self.rotation.T + np.array([0.0, self.height_m, 0.0])

    @property
    def levelled(self) -> np.ndarray:
        """[3,3] camera -> "levelled camera" rotation: the world in OpenCV's axes (x right, y down,
        z forward), i.e. the camera turned level; world = diag(1, -1, -1) @ levelled."""
        return np.diag([1.0, -1.0, -1.0]) @ self.rotation

    def heights(self, p: np.ndarray) -> np.ndarray:
        """[...] height above the ground (metres) of [..., 3] camera-frame points."""
        return np.asarray(p, np.float64) @ (np.asarray(self.up, np.float64) / np.linalg.norm(self.up)) + self.height_m

    @classmethod
    def from_matrix(cls, camera_to_world: np.ndarray) -> "WorldFrame":
        """The WorldFrame of a stored [4,4] `camera_to_world`."""
        m = np.asarray(camera_to_world, np.float64)
        return cls(up=m[1, :3].copy(), height_m=float(m[1, 3]))

    def summary(self) -> str:
        return f"camera {self.height_m:.2f} m above the ground, pitch {self.pitch_deg:+.1f}, roll {self.roll_deg:+.1f} deg"

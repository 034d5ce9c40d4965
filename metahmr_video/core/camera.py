"""Full-frame perspective camera (CLIFF-style) in pixels and metres.

Camera frame: OpenCV convention, x right, y down, z forward (metres). Image frame: pixels, origin at
the top-left corner of the full frame, principal point at the image centre unless given.
"""
from __future__ import annotations

import math

import torch


def default_focal(width: int, height: int) -> float:
    """CLIFF's focal-length guess in pixels for an unknown camera: the image diagonal."""
    return math.hypot(width, height)


def intrinsics(width: int, height: int, focal: float | None = None) -> torch.Tensor:
    """3x3 camera matrix K (pixels) with the principal point at the image centre."""
    f = default_focal(width, height) if focal is None else float(focal)
    return torch.tensor([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def project(points: torch.Tensor, focal: torch.Tensor, center: torch.Tensor, min_depth: float = 1e-3) -> torch.Tensor:
    """Perspective projection of camera-frame points to pixels.

    points: [B, N, 3] metres (camera frame); focal: [B] or scalar pixels; center: [B, 2] or [2] pixels.
    Returns [B, N, 2] pixels. Depths below `min_depth` are clamped so the projection stays finite.
    """
    focal = torch.as_tensor(focal, dtype=points.dtype, device=points.device).reshape(-1, 1, 1)
    center = torch.as_tensor(center, dtype=points.dtype, device=points.device).reshape(-1, 1, 2)
    z = points[..., 2:3].clamp(min=min_depth)
    return focal * points[..., :2] / z + center


def crop_cam_to_full_transl(crop_cam: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor,
                            focal: torch.Tensor, image_center: torch.Tensor) -> torch.Tensor:
    """Weak-perspective crop camera (s, tx, ty) -> full-frame translation in metres (camera frame).

    A body of unit-normalised size seen with scale s in a crop of side `box_size` pixels lies at depth
    tz = 2 f / (s * box_size); its x/y offset adds the box's offset from the principal point.
    crop_cam: [B, 3]; box_center: [B, 2] pixels; box_size: [B] pixels; focal: [B] pixels;
    image_center: [B, 2] pixels. Returns [B, 3] metres.
    """
    s, tx, ty = crop_cam.unbind(-1)
    bs = box_size * s + 1e-9
    tz = 2.0 * focal / bs
    cx = 2.0 * (box_center[:, 0] - image_center[:, 0]) / bs
    cy = 2.0 * (box_center[:, 1] - image_center[:, 1]) / bs
    return torch.stack([tx + cx, ty + cy, tz], dim=-1)

"""A headless mesh rasteriser in numpy + OpenCV: back-face culling, painter's algorithm over the
faces of all meshes together (so people occlude each other and themselves), flat Lambert shading.
No GL, no display. Camera: OpenCV pinhole (x right, y down, z forward), pixels and metres."""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

_SHIFT = 4  # sub-pixel bits for cv2.fillConvexPoly


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per track id (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618034) % 1.0, 0.55, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def outward_faces(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """`faces` re-wound, if needed, so normals (v1-v0) x (v2-v0) point out of the closed-ish mesh."""
    v = vertices[faces]
    signed_volume = np.einsum("fi,fi->f", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum()
    return faces if signed_volume >= 0 else faces[:, ::-1].copy()


def body_faces(body) -> np.ndarray:
    """[F, 3] faces of a body model (e.g. AnnyBody), re-wound outward using its rest-pose mesh."""
    import torch

    device = next(iter(body.buffers())).device
    with torch.no_grad():
        rest = body(torch.eye(3, device=device).expand(1, body.num_bones, 3, 3)).vertices[0].cpu().numpy()
    return outward_faces(rest, body.faces.cpu().numpy())


def render_meshes(image: np.ndarray, meshes: list[tuple[np.ndarray, tuple[int, int, int]]], faces: np.ndarray,
                  focal: float, center: tuple[float, float], opacity: float = 0.85) -> np.ndarray:
    """Draw meshes over an RGB uint8 image; returns a new image.

    meshes: (vertices [V, 3] metres in the camera frame, RGB colour) per person; all share `faces`
    (outward-wound, see `outward_faces`). Faces behind the camera (z < 5 cm) are skipped.
    """
    canvas = image.copy()
    polys, colors, depths = [], [], []
    for verts, color in meshes:
        tri = verts[faces]                                        # [F, 3, 3]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True) + 1e-12
        centroid = tri.mean(1)
        view = -centroid / (np.linalg.norm(centroid, axis=-1, keepdims=True) + 1e-12)
        facing = np.einsum("fi,fi->f", normal, view)
        keep = (facing > 0) & (tri[:, :, 2].min(1) > 0.05)
        if not keep.any():
            continue
        tri, facing, centroid = tri[keep], facing[keep], centroid[keep]
        uv = focal * tri[..., :2] / tri[..., 2:3] + np.asarray(center)
        shade = 0.35 + 0.65 * facing
        polys.append(np.round(uv * (1 << _SHIFT)).astype(np.int32))
        colors.append(shade[:, None] * np.asarray(color, np.float64)[None])
        depths.append(centroid[:, 2])
    if not polys:
        return canvas
    polys_all, colors_all = np.concatenate(polys), np.concatenate(colors)
    order = np.argsort(-np.concatenate(depths), kind="stable")   # far to near
    layer = canvas.copy()
    mask = np.zeros(canvas.shape[:2], np.uint8)
    for i in order:
        c = colors_all[i]
        cv2.fillConvexPoly(layer, polys_all[i], (float(c[0]), float(c[1]), float(c[2])), cv2.LINE_AA, _SHIFT)
        cv2.fillConvexPoly(mask, polys_all[i], 255, cv2.LINE_8, _SHIFT)
    blend = cv2.addWeighted(layer, opacity, canvas, 1.0 - opacity, 0.0)
    canvas[mask > 0] = blend[mask > 0]
    return canvas


def side_view(meshes: list[tuple[np.ndarray, tuple[int, int, int]]], faces: np.ndarray, size: tuple[int, int],
              focal: float) -> np.ndarray:
    """Render the meshes seen from the right-hand side (camera turned 90 degrees about the vertical
    axis through the people's centre), on a dark background of `size` = (width, height)."""
    width, height = size
    panel = np.full((height, width, 3), 40, np.uint8)
    if not meshes:
        return panel
    centre = np.concatenate([v for v, _ in meshes]).mean(0)
    extent = max(np.ptp(np.concatenate([v for v, _ in meshes]), axis=0).max(), 1.0)
    rot = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # look along camera -x
    distance = focal * extent / (0.8 * min(width, height))
    turned = [((v - centre) @ rot.T + np.array([0.0, 0.0, distance]), c) for v, c in meshes]
    return render_meshes(panel, turned, faces, focal, (width / 2, height / 2), opacity=1.0)

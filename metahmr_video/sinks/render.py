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
              focal: float, world=None) -> np.ndarray:
    """Render the meshes seen from the right-hand side (camera turned 90 degrees about the vertical
    axis through the people's centre), on a dark background of `size` = (width, height). With a
    `world` (`metahmr_video.world.WorldFrame`) the view is levelled on it and its ground drawn as a
    grid of 0.5 m squares under the people, each body scaled about the camera until its lowest point
    touches it (its image unchanged: `metahmr_video.world.feet`)."""
    width, height = size
    panel = np.full((height, width, 3), 40, np.uint8)
    if not meshes:
        return panel
    if world is not None:  # the levelled camera: OpenCV axes, y down, the ground at y = 0
        level, ground = world.levelled, np.array([0.0, -world.height_m, 0.0])
        meshes = [(_stood(v, world) @ level.T + ground, c) for v, c in meshes]
    everything = np.concatenate([v for v, _ in meshes])
    centre = everything.mean(0)
    extent = max(np.ptp(everything, axis=0).max(), 1.0)
    rot = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # look along camera -x
    distance = focal * extent / (0.8 * min(width, height))
    offset = np.array([0.0, 0.0, distance])
    if world is not None:
        _ground_grid(panel, (centre[0], centre[2]), lambda p: (p - centre) @ rot.T + offset, focal)
    turned = [((v - centre) @ rot.T + offset, c) for v, c in meshes]
    return render_meshes(panel, turned, faces, focal, (width / 2, height / 2), opacity=1.0)


def _stood(vertices: np.ndarray, world) -> np.ndarray:
    """`vertices` (camera frame) scaled about the camera so that the lowest touches `world`'s
    ground (left as they are when that takes more than a factor of 2)."""
    up = np.asarray(world.up, np.float64) / np.linalg.norm(world.up)
    along = float((vertices @ up).min())
    scale = -world.height_m / along if along < -1e-6 else 1.0
    return vertices * scale if 0.5 <= scale <= 2.0 else vertices


def _ground_grid(panel: np.ndarray, centre_xz: tuple[float, float], view, focal: float, half: float = 3.0,
                 step: float = 0.5) -> None:
    """Draw the ground plane y = 0 around `centre_xz` (metres) as grid lines, through `view` (points
    -> the panel camera's frame) and a pinhole of `focal` pixels centred on the panel."""
    h, w = panel.shape[:2]
    ticks = np.arange(-half, half + 1e-9, step)
    for axis in (0, 2):
        for tick in ticks:
            a, b = np.zeros(3), np.zeros(3)
            a[axis] = b[axis] = tick + centre_xz[axis // 2]
            other = 2 - axis
            a[other], b[other] = centre_xz[other // 2] - half, centre_xz[other // 2] + half
            pa, pb = view(a), view(b)
            if min(pa[2], pb[2]) <= 1e-3:
                continue
            ua = (focal * pa[:2] / pa[2] + (w / 2, h / 2)).astype(int)
            ub = (focal * pb[:2] / pb[2] + (w / 2, h / 2)).astype(int)
            cv2.line(panel, tuple(int(v) for v in ua), tuple(int(v) for v in ub), (90, 90, 90), 1, cv2.LINE_AA)

"""A vectorised z-buffer triangle rasteriser in torch, for the training renders (`metahmr_trainer.scene`).

Conventions: points are given in pixels of the full frame (x right, y down, origin at the top-left
corner of the top-left pixel; pixel (i, j) is sampled at its centre (i + 0.5, j + 0.5)) with their
camera depth z in metres (OpenCV camera, z forward). Faces are outward-wound (see
`metahmr_video.sinks.render.outward_faces`): a face turned towards the camera then has a negative
signed area in pixel coordinates, which is what `cull_back` keeps.

All candidate (face, pixel) pairs of all faces are generated at once (each face's bounding box of
pixel centres), tested with the face's barycentric plane equations, and resolved per pixel by one
`scatter_reduce(amin)` over a key that orders by quantised depth, then face index (exact, no race).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

DEPTH_QUANTUM = 1e-5  # metres: depth resolution of the z-buffer key


@dataclass
class Fragments:
    """The nearest surface at every covered pixel.

    pixel [P] flat pixel index y * W + x; face [P] index into the faces given; bary [P, 3]
    perspective-correct barycentric weights of the face's three vertices; depth [P] camera z, metres.
    """

    pixel: torch.Tensor
    face: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor

    def interpolate(self, attributes: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Per-vertex attributes [V, C] -> per-fragment values [P, C] (perspective-correct)."""
        return (attributes[faces[self.face]] * self.bary[..., None]).sum(1)


def rasterize(points_px: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, size: tuple[int, int],
              near: float = 0.05, cull_back: bool = True) -> Fragments:
    """Rasterise one mesh.

    points_px [V, 2] pixels; depth [V] camera z, metres; faces [F, 3] long; size (width, height).
    Faces with a vertex nearer than `near` metres are skipped (no clipping). cull_back drops faces
    turned away from the camera (outward winding assumed, see the module docstring).
    """
    width, height = int(size[0]), int(size[1])
    dev = points_px.device
    tri = points_px[faces].float()                                     # [F, 3, 2]
    z = depth[faces].float()                                           # [F, 3]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]                   # twice the signed area
    lo, hi = tri.min(1).values, tri.max(1).values
    x0 = torch.ceil(lo[:, 0] - 0.5).clamp(min=0).long()
    y0 = torch.ceil(lo[:, 1] - 0.5).clamp(min=0).long()
    x1 = torch.floor(hi[:, 0] - 0.5).clamp(max=width - 1).long()
    y1 = torch.floor(hi[:, 1] - 0.5).clamp(max=height - 1).long()
    keep = (z.min(1).values > near) & (x1 >= x0) & (y1 >= y0) & (area.abs() > 1e-12)
    if cull_back:
        keep &= area < 0
    fid = keep.nonzero()[:, 0]
    if len(fid) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=dev)
        return Fragments(empty, empty, torch.zeros(0, 3, device=dev), torch.zeros(0, device=dev))
    tri, z, area = tri[fid], z[fid], area[fid]
    bw, bh = (x1 - x0 + 1)[fid], (y1 - y0 + 1)[fid]
    x0, y0 = x0[fid], y0[fid]
    count = bw * bh
    # Barycentric planes: b_k(x, y) = a_k x + b_k y + c_k for vertices 1 and 2 (b_0 = 1 - b_1 - b_2).
    p0 = tri[:, 0]
    inv = 1.0 / area
    a1, b1 = e2[fid, 1] * inv, -e2[fid, 0] * inv
    a2, b2 = -e1[fid, 1] * inv, e1[fid, 0] * inv
    rep = torch.repeat_interleave(torch.arange(len(fid), device=dev), count)
    k = torch.arange(len(rep), device=dev) - (torch.cumsum(count, 0) - count)[rep]
    px = x0[rep] + k % bw[rep]
    py = y0[rep] + torch.div(k, bw[rep], rounding_mode="floor")
    dx = px.float() + 0.5 - p0[rep, 0]
    dy = py.float() + 0.5 - p0[rep, 1]
    w1 = a1[rep] * dx + b1[rep] * dy
    w2 = a2[rep] * dx + b2[rep] * dy
    w0 = 1.0 - w1 - w2
    inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
    rep, px, py = rep[inside], px[inside], py[inside]
    w = torch.stack([w0[inside], w1[inside], w2[inside]], -1)
    wz = w / z[rep]
    inv_depth = wz.sum(-1)
    frag_depth = 1.0 / inv_depth
    pixel = py * width + px
    key = torch.round(frag_depth / DEPTH_QUANTUM).long() * len(fid) + rep
    best = torch.full((width * height,), torch.iinfo(torch.long).max, dtype=torch.long, device=dev)
    best.scatter_reduce_(0, pixel, key, reduce="amin")
    win = key == best[pixel]
    return Fragments(pixel=pixel[win], face=fid[rep[win]], bary=wz[win] / inv_depth[win, None],
                     depth=frag_depth[win])


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Smooth unit normals [V, 3] (area-weighted face normals; outward for outward-wound faces)."""
    tri = vertices[faces]
    fn = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = torch.zeros_like(vertices).index_add_(0, faces.reshape(-1), fn.repeat_interleave(3, 0))
    return vn / vn.norm(dim=-1, keepdim=True).clamp(min=1e-12)

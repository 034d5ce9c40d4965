"""Photo-like training images of one full Anny mesh: looks, lighting, backgrounds, occluders.

The person is the full-topology Anny mesh posed in the camera frame (OpenCV: x right, y down, z
forward, metres), rasterised by `metahmr_trainer.raster` and shaded with smooth-normal Lambert lighting
(a directional light from the camera's side of the person plus ambient, a colour tint). Looks:
"clothed" (skin tone, hair, eyes and mouth, shirt/trousers/shoes split by the bone of largest
skinning weight per vertex, sleeve and leg lengths, belt height, striped shirts), "grey" (one
colour everywhere) and "parts" (a random colour per bone). Backgrounds are drawn procedurally
(rooms with a floor line and furniture-like boxes, outdoor sky/ground with blobs, multi-scale
coloured noise), then camera blur, sensor noise and JPEG compression at random.

All randomness comes from a `numpy.random.Generator` passed in, so an image is a function of
its seed.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from metahmr_video.core.camera import project
from metahmr_video.core.layout import MEDIAPIPE_33
from metahmr_video.sinks.render import outward_faces
from metahmr_trainer.raster import rasterize, vertex_normals

LOOKS = ("clothed", "grey", "parts")
LOOK_WEIGHTS = (0.7, 0.15, 0.15)
BACKGROUNDS = ("room", "outdoor", "noise")
OCCLUDERS = ("none", "rect", "pole", "desk")

# Body regions, from the bone of largest skinning weight (cmu_mb rig) and rest-pose geometry.
FACE, HAIR, EYE, MOUTH, BROW, NECK, TORSO, LOWER_TORSO, UPPER_ARM, FOREARM, HAND, THIGH, SHIN, FOOT = range(14)
_BONE_REGION = {
    "Head": FACE, "Neck1": NECK, "Neck": NECK, "Spine": TORSO, "Spine1": TORSO, "LeftShoulder": TORSO,
    "RightShoulder": TORSO, "LowerBack": LOWER_TORSO, "Hips": LOWER_TORSO, "LHipJoint": LOWER_TORSO,
    "RHipJoint": LOWER_TORSO, "LeftArm": UPPER_ARM, "RightArm": UPPER_ARM, "LeftForeArm": FOREARM,
    "RightForeArm": FOREARM, "LeftUpLeg": THIGH, "RightUpLeg": THIGH, "LeftLeg": SHIN, "RightLeg": SHIN,
    "LeftFoot": FOOT, "RightFoot": FOOT, "LeftToeBase": FOOT, "RightToeBase": FOOT,
}  # every other bone (hands, thumbs, fingers) -> HAND

_SKIN = np.array([[0.98, 0.84, 0.74], [0.86, 0.66, 0.52], [0.66, 0.46, 0.32], [0.45, 0.29, 0.19],
                  [0.30, 0.19, 0.13]])
_HAIR = np.array([[0.05, 0.04, 0.04], [0.17, 0.10, 0.06], [0.35, 0.22, 0.12], [0.72, 0.58, 0.35],
                  [0.62, 0.62, 0.62], [0.52, 0.22, 0.10]])


@dataclass
class Look:
    """One person's appearance: kind in LOOKS; RGB colours in [0, 1]; sleeve in none/short/long;
    shorts: bare shins and lower thighs; belt, hairline, nape: metres relative to the rest pose's
    pelvis, eyes and ears; stripes: shirt stripe period in metres (0 = plain); bone_colors [31, 3]
    for the "parts" look."""

    kind: str
    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    shirt2: np.ndarray
    trousers: np.ndarray
    shoes: np.ndarray
    sleeve: str = "short"
    shorts: bool = False
    bald: bool = False
    belt: float = 0.08
    hairline: float = 0.045
    nape: float = 0.03
    stripes: float = 0.0
    bone_colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


def _cloth(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.25:  # black, white, greys
        return np.full(3, rng.uniform(0.05, 0.95))
    return np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.15, 0.95)))


def sample_look(rng: np.random.Generator, num_bones: int) -> Look:
    """A random look (see the module docstring for the distribution of kinds)."""
    kind = LOOKS[rng.choice(len(LOOKS), p=LOOK_WEIGHTS)]
    t = rng.uniform(0, len(_SKIN) - 1)
    i = min(int(t), len(_SKIN) - 2)
    skin = (_SKIN[i] * (i + 1 - t) + _SKIN[i + 1] * (t - i)) * rng.uniform(0.93, 1.05, 3)
    denim = np.array([0.16, 0.24, 0.42]) * rng.uniform(0.7, 1.3)
    look = Look(kind=kind, skin=skin.clip(0, 1), hair=_HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.85, 1.15),
                shirt=_cloth(rng), shirt2=_cloth(rng), trousers=denim if rng.random() < 0.3 else _cloth(rng),
                shoes=_cloth(rng) * rng.uniform(0.3, 1.0), sleeve=str(rng.choice(["none", "short", "long"], p=[0.15, 0.45, 0.4])),
                shorts=bool(rng.random() < 0.2), bald=bool(rng.random() < 0.1), belt=rng.uniform(0.03, 0.15),
                hairline=rng.uniform(0.035, 0.06), nape=rng.uniform(-0.02, 0.12),
                stripes=rng.uniform(0.04, 0.12) if rng.random() < 0.2 else 0.0)
    if kind == "grey":
        look.skin = look.hair = look.shirt = look.trousers = look.shoes = np.full(3, rng.uniform(0.35, 0.85))
    elif kind == "parts":
        look.bone_colors = np.stack([_cloth(rng) for _ in range(num_bones)])
    return look


class BodyPaint:
    """Per-vertex colours [V, 3] of the full Anny mesh for a `Look` (regions computed once)."""

    def __init__(self, body) -> None:
        """body: a full-topology AnnyBody (cmu_mb rig)."""
        with torch.no_grad():
            rest = body(torch.eye(3).expand(1, body.num_bones, 3, 3))
        v = rest.vertices[0]
        m = body.model
        bone = m.vertex_bone_indices.gather(1, m.vertex_bone_weights.argmax(1, keepdim=True))[:, 0]
        names = body.bone_names
        self.bone = bone.long()
        region = torch.tensor([_BONE_REGION.get(names[int(b)], HAND) for b in range(len(names))])[self.bone]
        kp = {n: v[int(i)] for n, i in zip(MEDIAPIPE_33, body.kp_vertex.tolist()) if i >= 0}
        eyes = [kp["left_eye"], kp["right_eye"]]
        front = v[:, 1] < kp["nose"][1] + 0.05
        head = region == FACE
        for e in eyes:
            region[head & front & ((v - e).norm(dim=-1) < 0.011)] = EYE
            d = v - e
            region[head & front & (d[:, 0].abs() < 0.022) & (d[:, 2] > 0.016) & (d[:, 2] < 0.026)] = BROW
        a, b = kp["mouth_left"], kp["mouth_right"]
        t = ((v - b) @ (a - b) / (a - b).dot(a - b)).clamp(0, 1)
        region[head & front & ((v - (b + t[:, None] * (a - b))).norm(dim=-1) < 0.006)] = MOUTH
        self.region = region
        self.z = v[:, 2]                                        # height above the pelvis (rest)
        self.above_eyes = v[:, 2] - 0.5 * (eyes[0][2] + eyes[1][2])
        ear_y = 0.5 * (kp["left_ear"][1] + kp["right_ear"][1])
        self.behind_ears = v[:, 1] - ear_y                      # + behind (Anny faces -Y)
        self.below_ears = 0.5 * (kp["left_ear"][2] + kp["right_ear"][2]) - v[:, 2]
        knee = body.bone_names.index("LeftLeg")
        self.knee_z = float(rest.joints[0, knee, 2])
        self.faces = torch.from_numpy(outward_faces(v.numpy(), body.faces.numpy())).long()

    def colors(self, look: Look) -> torch.Tensor:
        """[V, 3] RGB albedo in [0, 1]."""
        if look.kind == "parts":
            return torch.as_tensor(look.bone_colors, dtype=torch.float32)[self.bone]
        r = self.region
        t = lambda c: torch.as_tensor(np.asarray(c), dtype=torch.float32)  # noqa: E731
        col = t(look.skin).expand(len(r), 3).clone()
        shirt = t(look.shirt).expand(len(r), 3)
        if look.stripes > 0:
            band = (torch.remainder(self.z / look.stripes, 1.0) < 0.5)[:, None]
            shirt = torch.where(band, shirt, t(look.shirt2))
        trousers = t(look.trousers)
        top = (r == TORSO) | ((r == LOWER_TORSO) & (self.z > look.belt))
        top |= (r == UPPER_ARM) & (look.sleeve != "none")
        top |= (r == FOREARM) & (look.sleeve == "long")
        col = torch.where(top[:, None], shirt, col)
        legs = ((r == LOWER_TORSO) & (self.z <= look.belt)) | (r == THIGH) | (r == SHIN)
        if look.shorts:
            legs &= self.z > self.knee_z + 0.15
        col[legs] = trousers
        col[r == FOOT] = t(look.shoes)
        if look.kind == "clothed":
            col[r == EYE] = t([0.08, 0.06, 0.05])
            col[r == MOUTH] = t(look.skin) * t([0.75, 0.5, 0.5])
            col[r == BROW] = t(look.hair)
            if not look.bald:
                hair = (r == FACE) & ((self.above_eyes > look.hairline)
                                      | ((self.behind_ears > 0.0) & (self.below_ears < look.nape)))
                col[hair] = t(look.hair)
        return col.clamp(0, 1)


# -- backgrounds ---------------------------------------------------------------------------------
def _noise_field(rng: np.random.Generator, width: int, height: int, cells: int, channels: int = 3) -> np.ndarray:
    """Smooth noise in [-1, 1]-ish, [H, W, C] float32, about `cells` features across the width."""
    gw = max(2, cells)
    gh = max(2, int(round(cells * height / width)))
    small = rng.standard_normal((gh, gw, channels)).astype(np.float32)
    out = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return out.reshape(height, width, channels)


def _muted(rng: np.random.Generator) -> np.ndarray:
    """An everyday colour: mostly low saturation."""
    return np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.6) ** 1.5, rng.uniform(0.15, 0.95)))


def background(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, str]:
    """A random procedural background: (RGB uint8 [H, W, 3], kind in BACKGROUNDS)."""
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    sw, sh = max(8, width // 4), max(8, height // 4)                    # drawn small, then resized
    img = np.empty((sh, sw, 3), np.float32)
    ys = np.linspace(0, 1, sh, dtype=np.float32)[:, None, None]
    if kind == "noise":
        img[:] = _muted(rng)
        for cells, amp in ((3, 0.25), (12, 0.15), (48, 0.1)):
            lum = _noise_field(rng, sw, sh, cells, 1)
            img += amp * rng.uniform(0.3, 1.0) * (lum + 0.3 * _noise_field(rng, sw, sh, cells))
    else:
        horizon = rng.uniform(0.25, 0.8)
        top0, top1 = _muted(rng), _muted(rng)
        if kind == "outdoor":
            top0 = np.array([0.45, 0.65, 0.95]) * rng.uniform(0.6, 1.1)
            top1 = np.array([0.75, 0.85, 0.95]) * rng.uniform(0.7, 1.1)
        ground = _muted(rng)
        sky = top0 + (top1 - top0) * (ys / max(horizon, 1e-3))
        floor = ground * (0.8 + 0.4 * (ys - horizon))
        img[:] = np.where(ys < horizon, sky, floor)
        img += 0.06 * _noise_field(rng, sw, sh, 24, 1) + 0.03 * _noise_field(rng, sw, sh, 48)
        for _ in range(int(rng.integers(3, 25))):
            c = tuple(float(x) for x in (_muted(rng) if rng.random() < 0.8 else _cloth(rng)))
            x0, y0 = int(rng.integers(0, sw)), int(rng.integers(0, sh))
            if kind == "outdoor" or rng.random() < 0.3:
                cv2.circle(img, (x0, y0), int(rng.integers(2, max(3, sw // 5))), c, -1)
            else:
                cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(2, max(3, sw // 3))),
                                              y0 + int(rng.integers(2, max(3, sh // 3)))), c, -1)
        if rng.random() < 0.5:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3.0))
    img = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
    for _ in range(int(rng.integers(0, 12))):                           # sharp edges at full size
        p = rng.integers(0, [width, height, width, height])
        c = tuple(float(x) for x in _muted(rng))
        cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), c, int(rng.integers(1, 6)))
    return (img.clip(0, 1) * 255).astype(np.uint8), kind


# -- the person ----------------------------------------------------------------------------------
@dataclass
class Light:
    """Direction towards the light [3] (camera frame, unit), ambient and diffuse strengths, RGB tint."""

    direction: np.ndarray
    ambient: float
    diffuse: float
    tint: np.ndarray


def sample_light(rng: np.random.Generator) -> Light:
    """A light on the camera's side of the person, from above or the side."""
    d = np.array([rng.uniform(-1, 1), rng.uniform(-1, 0.3), -rng.uniform(0.2, 1.0)])
    return Light(direction=d / np.linalg.norm(d), ambient=rng.uniform(0.15, 0.5), diffuse=rng.uniform(0.5, 0.95),
                 tint=rng.uniform(0.88, 1.08, 3))


@dataclass
class Layer:
    """What a drawn mesh left in the image: cover [H, W] float in [0, 1] (its opacity per pixel),
    depth [H, W] float32 camera z in metres of its nearest surface (inf where it is absent)."""

    cover: np.ndarray
    depth: np.ndarray


def draw_person(image: np.ndarray, vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor,
                focal: float, light: Light, rng: np.random.Generator, max_extent: int = 512) -> Layer:
    """Draw one mesh (vertices [V, 3] metres, camera frame; faces outward-wound; colors [V, 3] in
    [0, 1]) over an RGB uint8 image in place, principal point at the image centre. A person larger
    than `max_extent` pixels (in the image) is rasterised at that size and resized up (the detector
    sees people at 256 pixels or less), with linear-filtered edges."""
    h, w = image.shape[:2]
    px = project(vertices[None], torch.tensor([focal]), torch.tensor([w / 2.0, h / 2.0]))[0]
    front = vertices[:, 2] > 0.05
    layer = Layer(np.zeros((h, w), np.float32), np.full((h, w), np.inf, np.float32))
    if not front.any():
        return layer
    lo = px[front].min(0).values.floor().clamp(min=0)
    hi = px[front].max(0).values.ceil() + 1
    x0, y0 = int(lo[0]), int(lo[1])
    x1, y1 = int(min(float(hi[0]), w)), int(min(float(hi[1]), h))
    if x1 <= x0 or y1 <= y0:
        return layer
    s = min(1.0, max_extent / max(x1 - x0, y1 - y0))
    sw, sh = max(1, math.ceil((x1 - x0) * s)), max(1, math.ceil((y1 - y0) * s))
    scale = torch.tensor([sw / (x1 - x0), sh / (y1 - y0)])
    frags = rasterize((px - torch.tensor([float(x0), float(y0)])) * scale, vertices[:, 2], faces, (sw, sh))
    normal = frags.interpolate(vertex_normals(vertices, faces), faces)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    lam = (normal @ torch.as_tensor(light.direction, dtype=torch.float32)).clamp(min=0)
    albedo = frags.interpolate(colors, faces)
    shade = (light.ambient + light.diffuse * lam)[:, None] * torch.as_tensor(light.tint, dtype=torch.float32)
    texture = 1.0 + rng.uniform(0.0, 0.08) * torch.from_numpy(rng.standard_normal(len(frags.pixel)).astype(np.float32))
    rgb = np.zeros((sh * sw, 3), np.float32)
    alpha = np.zeros(sh * sw, np.float32)
    depth = np.full(sh * sw, np.inf, np.float32)
    pix = frags.pixel.numpy()
    rgb[pix] = (albedo * shade * texture[:, None]).clamp(0, 1).numpy() * 255
    alpha[pix] = 1.0
    depth[pix] = frags.depth.numpy()
    rgb, alpha, depth = rgb.reshape(sh, sw, 3), alpha.reshape(sh, sw), depth.reshape(sh, sw)
    if (sw, sh) != (x1 - x0, y1 - y0):
        rgb = cv2.resize(rgb, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        alpha = cv2.resize(alpha, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        depth = cv2.resize(depth, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    region = image[y0:y1, x0:x1].astype(np.float32)
    a = alpha[..., None]
    image[y0:y1, x0:x1] = (a * rgb + (1 - a) * region + 0.5).astype(np.uint8)
    layer.cover[y0:y1, x0:x1] = alpha
    layer.depth[y0:y1, x0:x1] = depth
    return layer


def draw_occluder(image: np.ndarray, rng: np.random.Generator, box: np.ndarray) -> tuple[np.ndarray, str]:
    """Draw an occluder over part of the person's box (xyxy pixels) in place: a box ("rect"), a
    vertical pole ("pole") or a desk/table edge covering the lower part ("desk"). Returns (mask
    [H, W] bool of the occluder, kind)."""
    h, w = image.shape[:2]
    kind = OCCLUDERS[1 + rng.integers(len(OCCLUDERS) - 1)]
    bw, bh = max(box[2] - box[0], 4.0), max(box[3] - box[1], 4.0)
    if kind == "rect":
        cw, ch = bw * rng.uniform(0.3, 0.8), bh * rng.uniform(0.2, 0.5)
        x0, y0 = box[0] + rng.uniform(-0.2, 1.0) * bw - cw / 2, box[1] + rng.uniform(0.1, 1.0) * bh - ch / 2
        x1, y1 = x0 + cw, y0 + ch
    elif kind == "pole":
        cw = bw * rng.uniform(0.08, 0.3)
        x0 = box[0] + rng.uniform(0.1, 0.9) * bw - cw / 2
        x1, y0, y1 = x0 + cw, 0.0, float(h)
    else:
        x0, x1 = box[0] - rng.uniform(0.2, 2.0) * bw, box[2] + rng.uniform(0.2, 2.0) * bw
        y0, y1 = box[1] + rng.uniform(0.35, 0.8) * bh, float(h)
    x0, x1 = int(np.clip(x0, 0, w)), int(np.clip(x1, 0, w))
    y0, y1 = int(np.clip(y0, 0, h)), int(np.clip(y1, 0, h))
    mask = np.zeros((h, w), bool)
    if x1 > x0 and y1 > y0:
        patch = rng.uniform(0.05, 0.95, 3) * (1.0 + 0.1 * _noise_field(rng, x1 - x0, y1 - y0, 8))
        shade = np.linspace(1.0, rng.uniform(0.6, 1.2), x1 - x0, dtype=np.float32)[None, :, None]
        image[y0:y1, x0:x1] = (patch * shade * 255).clip(0, 255).astype(np.uint8)
        mask[y0:y1, x0:x1] = True
    return mask, kind


def camera_effects(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Defocus blur, sensor noise and JPEG compression, each at random. RGB uint8 in and out."""
    if rng.random() < 0.4:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.5))
    if rng.random() < 0.5:
        noise = np.empty(image.shape, np.int16)
        cv2.setRNGSeed(int(rng.integers(2**31)))
        cv2.randn(noise, 0, rng.uniform(1.0, 6.0))
        image = cv2.add(image, noise, dtype=cv2.CV_8U)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
        if ok:
            image = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return image

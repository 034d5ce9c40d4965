"""Training pairs made of the real detector's output on rendered bodies, written as .npz shards.

    python -m metahmr_trainer.render_data --n 20000 --out ~/.cache/metahmr_video/rendered/train --seed 0

Per sample: a body from the motion prior with a random shape (as `metahmr_trainer.data.SyntheticData`),
seen by a random camera (`metahmr_trainer.data.sample_camera`: image sizes incl. portrait phone video,
focal, elevation, distance 2-9 m, any yaw); `truncated` of the samples are framed so that the
frame cuts the body at the chest, waist, hips or knees, or as a close upper-body webcam portrait
of a seated person facing the camera; `occluded` of them get an occluder (`metahmr_trainer.scene`). The
full Anny mesh is rendered (`metahmr_trainer.scene`), the product's detector runs on the image as on a
first video frame (`MultiPersonDetector.detect(frame, full=True)`, with the `run` command's
detector settings except the HOG person boxes: 0.3-3 s per image here), and the detection whose
box best overlaps the true person's box (IoU >= 0.3) is kept; a person it misses is looked for
once more on a tracker-like crop (see `source` below).

Shard keys (N samples; float32 unless said; pixels full frame; metres camera frame, OpenCV):
  found [N] bool; source [N] int code into `sources`: "full" = found by the full-frame detection,
  "track" = missed by it, found by the landmark model on the crop a tracker would hand over (a
  hint built from the true 2D landmarks, the product's `detect(frame, hints)` path; stands in for
  the product's HOG boxes and tracking, which are too slow to run here), "none" = not found;
  iou [N] detection vs true box; n_det [N] int people found by the full-frame pass; det_score [N];
  det_kp2d [N,33,2]; det_conf [N,33] (what `Detection.keypoint_conf` holds: visibility x presence);
  det_vis, det_pres [N,33] the landmark model's raw probabilities; det_world [N,33,3] MediaPipe's
  world landmarks (hip-centred, metres); det_box [N,4] xyxy (NaN where not found);
  pose [N,31,3,3] (bone 0 = orientation in the camera frame); shape [N,6]; transl [N,3];
  joints [N,31,3] and keypoints3d [N,33,3] of the fitting body (cmu_mb, reduced topology, the
  same as `metahmr_trainer.data` Target); kp2d [N,33,2] clean projection; inside [N,33] bool (in the
  image); occluded [N,33] bool (under the occluder); visible [N,33] bool (inside, not under the
  occluder, and not hidden by the body itself: no more than 5 cm (surface landmarks) or 15 cm
  (joint centres, which lie inside the limbs) behind the rendered surface at its pixel);
  image_size [N,2] (width, height); focal [N]; look, truncation, occluder, background [N] int
  codes into the name lists stored alongside (`looks`, `truncations`, `occluders`, `backgrounds`);
  seed [N] int64 (`SampleRenderer.rerender` draws the sample's image again from it).
Shards are written atomically (`shard_<seed>_<index>.npz`); a rerun with the same arguments skips the
shards already there, so an interrupted run loses at most the shard in progress.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

TRUNCATIONS = ("none", "chest", "waist", "hips", "knees", "portrait")
SOURCES = ("none", "full", "track")
DEFAULT_DIR = Path("~/.cache/metahmr_video/rendered").expanduser()
WEBCAM_SIZES = torch.tensor([[640, 480], [1280, 720], [720, 1280]], dtype=torch.float32)
log = logging.getLogger("metahmr_video.trainer")


@dataclass
class RenderConfig:
    """Shares of truncated (split evenly over TRUNCATIONS[1:]) and occluded samples; hog: also run
    the HOG person boxes of the product's detector (0.3-3 s per image on this machine class)."""

    truncated: float = 0.3
    occluded: float = 0.15
    hog: bool = False


def _u(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def frame_cut(kp3d: torch.Tensor, vertices: torch.Tensor, focal: float, size: tuple[float, float], cut: str,
              g: torch.Generator) -> torch.Tensor | None:
    """A pelvis translation [3] (metres, camera frame) that frames a body (keypoints [33,3] and
    vertices [V,3] relative to the pelvis, camera orientation) so that the top of the head is near
    the top edge and the bottom edge cuts through the `cut` level (see TRUNCATIONS). None when the
    body is not upright enough for that framing or the camera would end up inside it."""
    w, h = float(size[0]), float(size[1])
    sh, hip = kp3d[11:13].mean(0), kp3d[23:25].mean(0)
    knee, ankle = kp3d[25:27].mean(0), kp3d[27:29].mean(0)
    r = lambda lo, hi: float(_u(g, 1, lo, hi))  # noqa: E731
    level = {"chest": lambda: sh + r(0.25, 0.45) * (hip - sh), "waist": lambda: sh + r(0.6, 0.85) * (hip - sh),
             "hips": lambda: hip + r(-0.05, 0.2) * (knee - hip), "knees": lambda: knee + r(-0.15, 0.2) * (ankle - knee),
             "portrait": lambda: sh + r(0.15, 0.6) * (hip - sh)}[cut]()
    top = vertices[vertices[:, 1].argmin()]
    y_top = h * r(0.0, 0.12) - h / 2                    # image y of the head top, from the centre
    y_cut = h * r(0.9, 1.04) - h / 2
    # f (p_y + ty) = y (p_z + d) for both points, solved for (ty, d).
    if y_cut - y_top <= 0:
        return None
    d = (focal * (level[1] - top[1]) - (y_cut * level[2] - y_top * top[2])) / (y_cut - y_top)
    ty = (y_top * (top[2] + d)) / focal - top[1]
    x_img = w * (r(0.4, 0.6) if cut == "portrait" else r(0.25, 0.75)) - w / 2
    anchor = 0.5 * (sh + level)
    tx = x_img * (anchor[2] + d) / focal - anchor[0]
    transl = torch.stack([torch.as_tensor(tx), torch.as_tensor(ty), torch.as_tensor(d)]).float()
    if not (float(level[1] - top[1]) > 0.1 and float((vertices[:, 2] + transl[2]).min()) > 0.1):
        return None
    return transl


class SampleRenderer:
    """Renders samples and runs the product's detector on them (models loaded once)."""

    def __init__(self, config: RenderConfig | None = None) -> None:
        from metahmr_video.body import AnnyBody
        from metahmr_video.body.anny_body import FULL_TOPOLOGY
        from metahmr_video.detect import DetectorConfig, MultiPersonDetector
        from metahmr_trainer.prior import MotionPrior
        from metahmr_trainer.scene import BodyPaint

        self.config = config or RenderConfig()
        self.fit_body = AnnyBody()
        self.full_body = AnnyBody(topology=FULL_TOPOLOGY)
        self.paint = BodyPaint(self.full_body)
        self.prior = MotionPrior(self.fit_body)
        self.detector = MultiPersonDetector(DetectorConfig(use_hog=self.config.hog, num_threads=1))
        # metres a landmark may lie behind the rendered surface at its pixel and count as visible:
        # joint centres sit inside the limbs, surface landmarks on the (reduced) fitting mesh
        self.depth_tolerance = np.where(self.fit_body.kp_bone.numpy() >= 0, 0.15, 0.05)

    @torch.no_grad()
    def bodies(self, n: int, g: torch.Generator) -> dict:
        """Poses, shapes, cameras and framings for n samples (the render-independent part)."""
        from metahmr_video.core.rotations import axis_angle_to_rotmat
        from metahmr_trainer.data import sample_camera
        from metahmr_trainer.prior import sample_global_orientation

        cfg = self.config
        pose = axis_angle_to_rotmat(self.prior.sample(n, g))
        shape = _u(g, n * 6, 0.1, 0.9).reshape(n, 6)
        shape[:, 1] = _u(g, n, 0.4, 0.95)  # age: mostly adults
        pose[:, 0] = axis_angle_to_rotmat(sample_global_orientation(n, g))
        trunc = torch.where(torch.rand(n, generator=g) < cfg.truncated,
                            torch.randint(1, len(TRUNCATIONS), (n,), generator=g), torch.zeros(n, dtype=torch.long))
        portrait = trunc == TRUNCATIONS.index("portrait")
        k = int(portrait.sum())
        if k:  # a seated person facing a webcam, roughly
            pose[portrait] = axis_angle_to_rotmat(self.prior.sample(k, g, activity="sit"))
            yaw, pitch = _u(g, k, -0.6, 0.6), 0.1 * torch.randn(k, generator=g)
            pose[portrait, 0] = axis_angle_to_rotmat(torch.stack([pitch, torch.zeros(k), yaw], -1))
        pose, size, focal, transl = sample_camera(g, pose)
        if k:
            size[portrait] = WEBCAM_SIZES[torch.randint(0, len(WEBCAM_SIZES), (k,), generator=g)]
            focal[portrait] = torch.linalg.norm(size[portrait], dim=-1) * _u(g, k, 0.55, 0.95)
        occluded = torch.rand(n, generator=g) < cfg.occluded
        out = self.fit_body(pose, shape=shape, return_vertices=False)  # pelvis at the origin
        verts = torch.cat([self.full_body(pose[i:i + 16], shape=shape[i:i + 16]).vertices for i in range(0, n, 16)])
        for i in torch.nonzero(trunc).flatten().tolist():
            t = frame_cut(out.keypoints[i], verts[i], float(focal[i]), tuple(size[i].tolist()), TRUNCATIONS[trunc[i]], g)
            if t is None:
                trunc[i] = 0
            else:
                transl[i] = t
        return {"pose": pose, "shape": shape, "transl": transl, "joints": out.joints + transl[:, None],
                "keypoints3d": out.keypoints + transl[:, None], "vertices": verts + transl[:, None],
                "image_size": size, "focal": focal, "truncation": trunc, "occluded_flag": occluded}

    def render(self, vertices: torch.Tensor, kp2d: np.ndarray, size: tuple[int, int], focal: float,
               occlude: bool, seed: int) -> tuple[np.ndarray, dict]:
        """One image (RGB uint8) and its tags: look, background, occluder codes, the occluder's mask
        [H, W] bool (None without one) and the person's depth [H, W] (metres, inf off the person)."""
        from metahmr_trainer.scene import (BACKGROUNDS, LOOKS, OCCLUDERS, background, camera_effects, draw_occluder,
                                   draw_person, sample_light, sample_look)

        rng = np.random.default_rng(seed)
        w, h = size
        image, bg = background(rng, w, h)
        look = sample_look(rng, self.full_body.num_bones)
        layer = draw_person(image, vertices, self.paint.faces, self.paint.colors(look), focal, sample_light(rng), rng)
        occ_kind, occ_mask = "none", None
        if occlude:
            occ_mask, occ_kind = draw_occluder(image, rng, true_box(kp2d, size))
        image = camera_effects(image, rng)
        return image, {"look": LOOKS.index(look.kind), "background": BACKGROUNDS.index(bg),
                       "occluder": OCCLUDERS.index(occ_kind), "occ_mask": occ_mask, "depth": layer.depth}

    def rerender(self, arrays: dict[str, np.ndarray], i: int) -> np.ndarray:
        """Sample i of a shard's arrays rendered again (the same image the detector saw)."""
        t = lambda k: torch.from_numpy(np.asarray(arrays[k][i:i + 1], np.float32))  # noqa: E731
        with torch.no_grad():
            verts = (self.full_body(t("pose"), shape=t("shape")).vertices + t("transl")[:, None])[0]  # as in bodies()
        size = tuple(int(v) for v in arrays["image_size"][i])
        return self.render(verts, arrays["kp2d"][i], size, float(arrays["focal"][i]), bool(arrays["occluder"][i] > 0),
                           int(arrays["seed"][i]))[0]

    def shard(self, seed: int, n: int, previews: Path | None = None, previews_n: int = 0) -> dict[str, np.ndarray]:
        """n samples from one seed, as the arrays of a shard (see the module docstring); the first
        `previews_n` images go to the folder `previews` with the true (green) and detected (red)
        landmarks drawn."""
        from metahmr_video.core.camera import project
        from metahmr_video.core.records import Detection, Frame
        from metahmr_trainer.scene import BACKGROUNDS, LOOKS, OCCLUDERS

        g = torch.Generator().manual_seed(seed)
        b = self.bodies(n, g)
        seeds = torch.randint(0, 2**62, (n,), generator=g).numpy()
        size = b["image_size"]
        kp2d = project(b["keypoints3d"], b["focal"], size / 2)
        rows = []
        for i in range(n):
            wh = (int(size[i, 0]), int(size[i, 1]))
            clean = kp2d[i].numpy()
            image, tags = self.render(b["vertices"][i], clean, wh, float(b["focal"][i]), bool(b["occluded_flag"][i]),
                                      int(seeds[i]))
            inside, occ, visible = landmark_visibility(clean, b["keypoints3d"][i, :, 2].numpy(), tags["depth"],
                                                       tags["occ_mask"], self.depth_tolerance)
            row = {"inside": inside, "occluded": occ, "visible": visible, "look": tags["look"], "background": tags["background"],
                   "occluder": tags["occluder"], "found": False, "iou": 0.0, "source": 0}
            frame = Frame(index=i, time_s=0.0, image=image)
            dets = self.detector.detect(frame, hints=(), full=True)
            row["n_det"] = len(dets)
            box = true_box(clean, wh)
            det, row["iou"] = _match(dets, box)
            if det is None:  # as the tracker would hand over a person found earlier (e.g. by HOG)
                hint = Detection(box=box, score=1.0, keypoints2d=clean, keypoint_conf=inside.astype(np.float32),
                                 source="track")
                det, iou = _match(self.detector.detect(frame, hints=[hint], full=False), box)
                row["source"] = SOURCES.index("track") if det is not None else 0
                row["iou"] = max(row["iou"], iou)
            else:
                row["source"] = SOURCES.index("full")
            if det is not None:
                row.update(found=True, det_score=det.score, det_kp2d=det.keypoints2d, det_conf=det.keypoint_conf,
                           det_vis=det.visibility, det_pres=det.presence, det_world=det.world_landmarks,
                           det_box=det.box)
            rows.append(row)
            if previews is not None and i < previews_n:
                _preview(previews / f"{seed}_{i:04d}.jpg", image, clean, row)
        nan = {"det_score": np.nan, "det_kp2d": np.full((33, 2), np.nan), "det_conf": np.full(33, np.nan),
               "det_vis": np.full(33, np.nan), "det_pres": np.full(33, np.nan),
               "det_world": np.full((33, 3), np.nan), "det_box": np.full(4, np.nan)}
        out = {k: np.stack([np.asarray(r.get(k, v), np.float32) for r in rows]) for k, v in nan.items()}
        for k in ("found", "inside", "occluded", "visible"):
            out[k] = np.stack([np.asarray(r[k], bool) for r in rows])
        for k in ("n_det", "look", "background", "occluder", "source"):
            out[k] = np.array([r[k] for r in rows], np.int32)
        out["iou"] = np.array([r["iou"] for r in rows], np.float32)
        for k in ("pose", "shape", "transl", "joints", "keypoints3d", "focal"):
            out[k] = b[k].numpy().astype(np.float32)
        out.update(kp2d=kp2d.numpy().astype(np.float32), image_size=size.numpy().astype(np.float32),
                   truncation=b["truncation"].numpy().astype(np.int32), seed=seeds.astype(np.int64),
                   looks=np.array(LOOKS), sources=np.array(SOURCES), truncations=np.array(TRUNCATIONS), occluders=np.array(OCCLUDERS),
                   backgrounds=np.array(BACKGROUNDS))
        return out


def landmark_visibility(kp2d: np.ndarray, depth: np.ndarray, surface: np.ndarray, occluder: np.ndarray | None,
                        tolerance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inside, occluded, visible) [33] bool for landmarks at pixels kp2d [33,2] and camera depths
    [33] (metres), given the rendered person's depth image [H, W] (inf off the person), the
    occluder's mask [H, W] (or None) and per-landmark depth tolerances [33] (metres)."""
    h, w = surface.shape
    inside = (kp2d >= 0).all(1) & (kp2d[:, 0] < w) & (kp2d[:, 1] < h)
    occ, visible = np.zeros(len(kp2d), bool), np.zeros(len(kp2d), bool)
    xy = np.floor(kp2d[inside]).astype(int)
    if occluder is not None:
        occ[inside] = occluder[xy[:, 1], xy[:, 0]]
    visible[inside] = depth[inside] <= surface[xy[:, 1], xy[:, 0]] + tolerance[inside]
    return inside, occ, visible & ~occ


def _match(dets: list, box: np.ndarray, min_iou: float = 0.3):
    """The detection whose box overlaps `box` most, if by at least min_iou: (Detection or None, IoU)."""
    from metahmr_video.core.boxes import box_iou

    if not dets:
        return None, 0.0
    ious = box_iou(box[None], np.stack([d.box for d in dets]))[0]
    j = int(ious.argmax())
    return (dets[j] if ious[j] >= min_iou else None), float(ious[j])


def true_box(kp2d: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The true person's box as the detector builds its own (keypoints' box padded by 10% of its
    larger side, `box_from_keypoints`), clipped to the image. xyxy pixels."""
    from metahmr_video.core.boxes import box_from_keypoints

    box = box_from_keypoints(kp2d, np.ones(len(kp2d)), min_conf=0.5)
    return np.clip(box, 0, [size[0], size[1], size[0], size[1]]).astype(np.float32)


def _preview(path: Path, image: np.ndarray, clean: np.ndarray, row: dict) -> None:
    import cv2

    img = np.ascontiguousarray(image[..., ::-1])
    for x, y in clean:
        cv2.circle(img, (int(x), int(y)), 3, (0, 255, 0), -1)
    if row["found"]:
        for (x, y), c in zip(row["det_kp2d"], row["det_conf"]):
            cv2.circle(img, (int(x), int(y)), 3, (0, 0, 255) if c > 0.5 else (0, 200, 255), 1)
    cv2.imwrite(str(path), img)


def shard_seed(seed: int, index: int) -> int:
    """The generator seed of shard `index` of a run with `seed` (runs with different seeds never share one)."""
    return seed * 1_000_003 + index + 7_000_000_000


def generate(n: int, out: Path, seed: int = 0, shard_size: int = 250, config: RenderConfig | None = None,
             previews: int = 0, progress: bool = True) -> list[Path]:
    """Write ceil(n / shard_size) shards to `out`, skipping those already there. Returns all shard paths."""
    out.mkdir(parents=True, exist_ok=True)
    count = math.ceil(n / shard_size)
    paths = [out / f"shard_{seed:03d}_{k:05d}.npz" for k in range(count)]
    todo = [k for k, p in enumerate(paths) if not p.exists()]
    bar = tqdm(total=count * shard_size, initial=(count - len(todo)) * shard_size, unit="sample",
               desc="render", disable=not progress, smoothing=0.05)
    renderer = SampleRenderer(config) if todo else None
    for k in todo:
        prev = None
        if previews and k == 0:
            prev = out / "previews"
            prev.mkdir(exist_ok=True)
        t0 = time.time()
        arrays = renderer.shard(shard_seed(seed, k), shard_size, prev, previews)
        tmp = paths[k].with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, paths[k])
        log.info("%s: %d samples, %.0f ms/sample, found %.0f%%", paths[k].name, shard_size,
                 1000 * (time.time() - t0) / shard_size, 100 * arrays["found"].mean())
        bar.update(shard_size)
    bar.close()
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m metahmr_trainer.render_data", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20000, help="samples (rounded up to whole shards)")
    p.add_argument("--out", type=Path, default=DEFAULT_DIR / "train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-size", type=int, default=250)
    p.add_argument("--truncated", type=float, default=RenderConfig.truncated)
    p.add_argument("--occluded", type=float, default=RenderConfig.occluded)
    p.add_argument("--hog", action="store_true", help="also run the HOG person boxes (slow)")
    p.add_argument("--previews", type=int, default=0, help="write the first shard's images with landmarks")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.n <= 0 or args.shard_size <= 0:
        print("error: --n and --shard-size must be positive", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    import cv2
    cv2.setNumThreads(args.threads)
    paths = generate(args.n, args.out.expanduser(), args.seed, args.shard_size,
                     RenderConfig(args.truncated, args.occluded, args.hog), args.previews)
    print(f"{len(paths)} shards in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

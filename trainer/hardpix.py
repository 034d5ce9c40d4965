"""Hard poses on real pixels, scored against hand-placed 2D keypoints (issue 23).

    metahmr-video evaluate --splits hardpix
    python -m metahmr_trainer.hardpix [--out-dir eval_out] [--cache-dir ~/.cache/metahmr_video/hardpix]

Material: 18 Pexels photos of people in yoga and exercise poses (lying, kneeling, on all fours,
sitting on the floor, bending, arms overhead, cut by the frame) shipped in the `aipose==3.2.0`
sdist (`aipose-3.2.0/notebooks/poses/`), downloaded with pip into a cache at evaluation time and
never committed. The reference: `hardpix_labels.json` beside this module, COCO-17 keypoints
placed by eye for this project (by the AI helper that wrote the split, from grid views) before any
detector saw the images: independent of MediaPipe, not a benchmark's or a person's labels (its
own uncertainty is discussed in docs/hardpix.md), with category tags per person.

Each image, scaled to LONG_SIDE pixels on its long side, goes through the product's photo path
(`run_input` on an image file: `Runner.photo`, the default focal, the config's defaults), each
labelled person is matched to a found person by box IoU (`match`), and per category tag and in
total the split reports detector recall, and for MediaPipe's own 2D landmarks (the input,
`keypoints2d`) and for our body's landmarks (`keypoints3d`) projected with the run's intrinsics:
the mean 2D error over the labelled keypoints (nose and the 12 limb joints) in % of the person's
size (the larger side of the box around the labelled keypoints), PCK@0.1 and PCK@0.2 of the same
size, and catastrophes (ours above BAD_2D % while the input is at or below it). No 3D truth.

Definitions differ: COCO's hips lie lower and wider than MediaPipe's, and its shoulders are the
joint's visual centre; both rows carry that mismatch alike (the input's row measures it).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SOURCE = "aipose==3.2.0"
SDIST = "aipose-3.2.0.tar.gz"
FOLDER = "aipose-3.2.0/notebooks/poses/"
LABELS = Path(__file__).with_name("hardpix_labels.json")
DEFAULT_CACHE = Path("~/.cache/metahmr_video/hardpix").expanduser()
LONG_SIDE = 1280
BAD_2D = 6.0  # % of the person's size: above it a 2D fit counts as failed (as trainer/hardpose.py)
MATCH_IOU = 0.3
# COCO-17 index -> MediaPipe-33 index: nose and the 12 limb joints (eyes and ears are not scored).
COCO_TO_MP = {0: 0, 5: 11, 6: 12, 7: 13, 8: 14, 9: 15, 10: 16, 11: 23, 12: 24, 13: 25, 14: 26, 15: 27, 16: 28}
SCORED_COCO = list(COCO_TO_MP)
SCORED_MP = list(COCO_TO_MP.values())
CATEGORIES = ("lying", "kneeling", "all_fours", "sitting", "bending", "arms_overhead", "jumping", "cut_by_frame")


@dataclass
class Person:
    """One labelled person: image file name, original size (w, h), COCO-17 keypoints [17, 3]
    (x, y, v; v 0 not labelled) in the original's pixels, and category tags."""

    image: str
    image_size: tuple[int, int]
    keypoints: np.ndarray
    categories: list[str] = field(default_factory=list)

    def scaled(self, long_side: int = LONG_SIDE) -> np.ndarray:
        """The keypoints in the image scaled to `long_side` pixels on its long side (`fetch_images`)."""
        s = long_side / max(self.image_size)
        kp = self.keypoints.astype(float).copy()
        kp[:, :2] *= s
        return kp


def load_labels(path: Path = LABELS) -> list[Person]:
    people = json.loads(Path(path).read_text())["people"]
    out = []
    for p in people:
        kp = np.asarray(p["keypoints"], float).reshape(17, 3)
        cats = list(p.get("categories") or categorize(kp))
        out.append(Person(p["image"], tuple(p["image_size"]), kp, cats))
    return out


# ---------------------------------------------------------------------------------------------
# Categories from 2D keypoints alone (for label sets without tags, e.g. COCO-format ones).

def _mid(kp: np.ndarray, a: int, b: int) -> np.ndarray | None:
    pts = [kp[i, :2] for i in (a, b) if kp[i, 2] > 0]
    return np.mean(pts, 0) if pts else None


def categorize(kp: np.ndarray) -> list[str]:
    """Category tags of a person from COCO-17 keypoints [17, 3] (image y down), by rule (for
    label sets without tags; it agrees with hand tags on most but not all of this split's people):
    cut_by_frame: both hips, or both knees and both ankles, unlabelled. With the torso's tilt
    from upright (hips' midpoint to shoulders'; 0 upright, 180 head down) and the thigh length
    (mean hip-knee distance per side): bending: tilt above 120 degrees with the ankles a standing
    leg below the hips or above them (folds, inversions), or tilt 45-120 with standing legs;
    lying: tilt above 60 without standing legs; upright: kneeling: hips above the knees by half a
    thigh, a knee as low as its ankle; sitting: hips less than half a thigh above the knees, the
    ankles near the hips' height. all_fours: not lying, tilt above 60 and both wrists as low as the lower
    legs. arms_overhead: both wrists beyond the shoulders along the torso by 0.3 torso lengths.
    Tags are not exclusive; an upright standing person gets none."""
    tags = []
    vis = kp[:, 2] > 0
    if not (vis[11] or vis[12]) or not (vis[13] or vis[14] or vis[15] or vis[16]):
        tags.append("cut_by_frame")
    sh, hip = _mid(kp, 5, 6), _mid(kp, 11, 12)
    knee, ank = _mid(kp, 13, 14), _mid(kp, 15, 16)
    if sh is None or hip is None:
        return tags
    torso = sh - hip
    length = float(np.linalg.norm(torso)) + 1e-9
    tilt = float(np.degrees(np.arccos(np.clip(-torso[1] / length, -1, 1))))
    sides = [np.linalg.norm(kp[k, :2] - kp[h, :2]) for h, k in ((11, 13), (12, 14)) if vis[h] and vis[k]]
    thigh = float(np.mean(sides)) if sides else length
    legs_down = ank is not None and ank[1] - hip[1] > 1.2 * thigh
    if tilt > 120 and (legs_down or (ank is not None and ank[1] < hip[1])):
        tags.append("bending")
    elif tilt > 60 and not legs_down:
        tags.append("lying")
    elif tilt > 45 and legs_down:
        tags.append("bending")
    elif tilt <= 60 and knee is not None:
        if hip[1] < knee[1] - 0.5 * thigh and ank is not None and knee[1] >= ank[1] - 0.25 * thigh:
            tags.append("kneeling")
        elif hip[1] >= knee[1] - 0.5 * thigh and (ank is None or abs(ank[1] - hip[1]) < 0.8 * thigh):
            tags.append("sitting")
    low = max(v[1] for v in (knee, ank) if v is not None) if (knee is not None or ank is not None) else None
    if "lying" not in tags and tilt > 60 and low is not None and vis[9] and vis[10] and min(kp[9, 1], kp[10, 1]) > low - 0.5 * thigh:
        tags.append("all_fours")
    if vis[9] and vis[10]:
        u = torso / length
        if all(float((kp[i, :2] - sh) @ u) > 0.3 * length for i in (9, 10)):
            tags.append("arms_overhead")
    return tags


# ---------------------------------------------------------------------------------------------
# Geometry and scores.

def person_size(kp: np.ndarray) -> float:
    """The larger side of the box around the labelled keypoints (the height of an upright person)."""
    pts = kp[kp[:, 2] > 0, :2]
    return float(np.max(pts.max(0) - pts.min(0))) if len(pts) else float("nan")


def label_box(kp: np.ndarray, pad: float = 0.15) -> np.ndarray:
    """[x0, y0, x1, y1] around the labelled keypoints, padded by `pad` of the larger side (the
    keypoints stop at the joints; a detector's box holds the head, hands and feet)."""
    pts = kp[kp[:, 2] > 0, :2]
    lo, hi = pts.min(0), pts.max(0)
    m = pad * float(np.max(hi - lo))
    return np.array([lo[0] - m, lo[1] - m, hi[0] + m, hi[1] + m])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(labelled: list[np.ndarray], found: list[np.ndarray], threshold: float = MATCH_IOU) -> list[int | None]:
    """Greedy one-to-one matching by box IoU (highest first): for each labelled box the index of
    its found box, or None when no free one overlaps it by `threshold`."""
    pairs = sorted(((iou(a, b), i, j) for i, a in enumerate(labelled) for j, b in enumerate(found)), reverse=True)
    out: list[int | None] = [None] * len(labelled)
    used: set[int] = set()
    for v, i, j in pairs:
        if v < threshold:
            break
        if out[i] is None and j not in used:
            out[i] = j
            used.add(j)
    return out


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """[..., 3] camera-frame points (OpenCV axes) -> [..., 2] pixels with intrinsics K [3, 3]."""
    h = points @ np.asarray(K, float).T
    return h[..., :2] / h[..., 2:3]


def errors_2d(pred: np.ndarray, kp: np.ndarray) -> np.ndarray:
    """Per scored keypoint (`SCORED_COCO` order) the distance of `pred` [13, 2] (MediaPipe order
    `SCORED_MP`) to the label in % of `person_size`; NaN where unlabelled."""
    true = kp[SCORED_COCO]
    d = np.linalg.norm(pred - true[:, :2], axis=-1) / person_size(kp) * 100.0
    return np.where(true[:, 2] > 0, d, np.nan)


def summarize(errs: list[np.ndarray]) -> dict:
    """Mean 2D error (%: per person the mean over its labelled keypoints, then over people),
    PCK@0.1 / @0.2 over all labelled keypoints, share of people above BAD_2D."""
    if not errs:
        return {"n": 0, "err": float("nan"), "pck10": float("nan"), "pck20": float("nan"), "bad": float("nan")}
    per = np.array([np.nanmean(e) for e in errs])
    flat = np.concatenate([e[np.isfinite(e)] for e in errs])
    return {"n": len(errs), "err": float(per.mean()), "pck10": float((flat <= 10).mean() * 100),
            "pck20": float((flat <= 20).mean() * 100), "bad": float((per > BAD_2D).mean() * 100)}


# ---------------------------------------------------------------------------------------------
# Material.

def fetch_images(cache_dir: Path = DEFAULT_CACHE, names: list[str] | None = None) -> dict[str, Path]:
    """Download (once) the aipose sdist with pip, extract the labelled photos and write each
    scaled to LONG_SIDE on its long side as cache_dir/images/<stem>.png; name -> path."""
    import cv2

    cache_dir = Path(cache_dir)
    names = names or [p.image for p in load_labels()]
    out_dir = cache_dir / "images"
    paths = {n: out_dir / (Path(n).stem + ".png") for n in names}
    if all(p.is_file() for p in paths.values()):
        return paths
    cache_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(exist_ok=True)
    sdist = cache_dir / SDIST
    if not sdist.is_file():
        from metahmr_video.core.errors import MetaHMRError

        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SOURCE,
               "-d", str(cache_dir), "-q"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not sdist.is_file():
            raise MetaHMRError(f"could not download {SOURCE} with pip: {r.stderr.strip()[-300:]}")
    with tarfile.open(sdist) as tar:
        for n, p in paths.items():
            if p.is_file():
                continue
            data = np.frombuffer(tar.extractfile(FOLDER + n).read(), np.uint8)
            im = cv2.imdecode(data, cv2.IMREAD_COLOR)
            s = LONG_SIDE / max(im.shape[:2])
            im = cv2.resize(im, (round(im.shape[1] * s), round(im.shape[0] * s)), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(p), im)
    return paths


# ---------------------------------------------------------------------------------------------
# The evaluation.

def found_people(npz: Path) -> list[dict]:
    """Each person of a photo's results: box [4], MediaPipe's 2D [33, 2] and our projected
    landmarks [33, 2] (`keypoints3d` through the run's intrinsics), and the fit's flags."""
    from metahmr_video.core.results import load_results

    res = load_results(npz)
    K = np.asarray(res.meta["intrinsics"], float)
    out = []
    for tid, t in sorted(res.tracks.items()):
        out.append({"track": int(tid), "box": np.asarray(t.boxes[0], float)[:4],
                    "input": np.asarray(t.keypoints2d[0], float)[:, :2],
                    "ours": project(np.asarray(t.keypoints3d[0], float), K),
                    "reproj_error": float(t.reproj_error[0]), "fallback": bool(t.fallback[0])})
    return out


def evaluate_hardpix(cache_dir: Path = DEFAULT_CACHE, out_dir: Path = Path("eval_out"), config=None,
                     labels: Path = LABELS) -> dict:
    """Run every labelled photo through the product's photo path and score it; returns the
    per-person rows and the per-category summary."""
    from metahmr_video.app.config import Config
    from metahmr_video.app.runner import Runner, run_input

    people = load_labels(labels)
    images = fetch_images(cache_dir, sorted({p.image for p in people}))
    runner = Runner(Config() if config is None else config)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for image in sorted(images):
            run_input(runner, images[image], Path(tmp), show_progress=False)
            found = found_people(Path(tmp) / f"{images[image].stem}.npz")
            mine = [p for p in people if p.image == image]
            kps = [p.scaled() for p in mine]
            m = match([label_box(k) for k in kps], [f["box"] for f in found])
            for p, kp, j in zip(mine, kps, m):
                row = {"image": image, "categories": p.categories, "size_px": person_size(kp),
                       "found": j is not None, "people_found_in_image": len(found)}
                if j is not None:
                    f = found[j]
                    e_in, e_ours = errors_2d(f["input"][SCORED_MP], kp), errors_2d(f["ours"][SCORED_MP], kp)
                    row.update(input_err=e_in.tolist(), ours_err=e_ours.tolist(),
                               input_mean=float(np.nanmean(e_in)), ours_mean=float(np.nanmean(e_ours)),
                               reproj_error_px=f["reproj_error"], fallback=f["fallback"],
                               input_2d=np.round(f["input"][SCORED_MP], 1).tolist(),
                               ours_2d=np.round(f["ours"][SCORED_MP], 1).tolist(), label_2d=kp[SCORED_COCO].round(1).tolist())
                rows.append(row)
    return {"source": SOURCE, "long_side": LONG_SIDE, "rows": rows, "summary": summary(rows)}


def summary(rows: list[dict]) -> dict:
    """Per category (and "all": each person once): n, recall, input / ours 2D scores, catastrophes."""
    out = {}
    groups = {c: [r for r in rows if c in r["categories"]] for c in CATEGORIES}
    groups["all"] = rows
    for c, rs in groups.items():
        if not rs:
            continue
        hit = [r for r in rs if r["found"]]
        nan = lambda v: np.array([np.nan if x is None else x for x in v], float)  # noqa: E731
        s_in, s_ours = summarize([nan(r["input_err"]) for r in hit]), summarize([nan(r["ours_err"]) for r in hit])
        cat = [r["image"] for r in hit if r["ours_mean"] > BAD_2D >= r["input_mean"]]
        out[c] = {"n": len(rs), "found": len(hit), "recall": 100.0 * len(hit) / len(rs), "input": s_in, "ours": s_ours,
                  "catastrophes": cat}
    return out


def format_table(summ: dict) -> str:
    head = ("| category | n | detector recall | 2D % input / **ours** | PCK@0.1 input / ours | PCK@0.2 input / ours "
            f"| > {BAD_2D:g} % input / ours | catastrophes |")
    lines = [head, "|" + "---|" * 8]
    for c, s in summ.items():
        i, o = s["input"], s["ours"]
        lines.append(f"| {'**all**' if c == 'all' else c} | {s['n']} | {s['recall']:.0f} % ({s['found']}) "
                     f"| {i['err']:.1f} / **{o['err']:.1f}** | {i['pck10']:.0f} / {o['pck10']:.0f} "
                     f"| {i['pck20']:.0f} / {o['pck20']:.0f} | {i['bad']:.0f} / {o['bad']:.0f} % | {len(s['catastrophes'])} |")
    return "\n".join(lines)


def write_results(res: dict, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "hardpix.json"
    path.write_text(json.dumps(res, indent=1))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out-dir", type=Path, default=Path("eval_out"))
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--checkpoint", default=None, help="the adaptation checkpoint (default: the shipped one)")
    a = p.parse_args(argv)
    from metahmr_video.app.config import Config, override

    config = override(Config(), {"adapt.checkpoint": a.checkpoint}) if a.checkpoint else Config()
    res = evaluate_hardpix(a.cache_dir.expanduser(), a.out_dir, config)
    print(format_table(res["summary"]))
    print(f"\nwrote {write_results(res, a.out_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

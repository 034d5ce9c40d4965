"""`metahmr-video evaluate --splits world`: the world the product finds on real footage with a known
one. The pose2sim demo's four calibrated views (trainer/realpix/data.py) each go through
`metahmr-video run` (the product's Runner, its world on); scored per view against:
- the calibration: the camera's height above the lab floor, pitch and roll (`WorldFrame`'s
  conventions, the truth put through the same code);
- the walker's 15 standard joints triangulated from the detector's 2D in all four views
  (trainer/realpix/reference.py: built from MediaPipe's 2D, not from its 3D), in the lab's world
  (Y up): ours from the run's world arrays after ONE horizontal alignment of the whole sequence
  (a rotation about the vertical and a shift on the ground; no scale, tilt or per-frame fit);
- foot skating (horizontal motion of a foot the run says is in contact, cm per frame), the root's
  motion on the ground (`root_motion`: pops; JSON only), ankle
  heights in contact against the reference's, how far the world's keypoints, put back in the
  camera, moved in the image, and their reprojection error against the detector's 2D (pixels);
  the ankles' image jitter over their contacts, the fitted body's and the detector's (`_jitter`,
  pixels; JSON only);
- every track's exported skeleton: its ankles' heights against the world arrays' (mm).
The two-person demo's four views (the same cameras and calibration; `multi`) are scored on the
camera only: two walkers and a bystander, each body's size error its own.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

from metahmr_trainer.realpix.data import DEFAULT_CACHE, MULTI_DEMO, Camera, fetch_demo, read_qca
from metahmr_trainer.realpix.joints import standard_from_landmarks
from metahmr_video.world import WorldFrame
from metahmr_video.world.feet import ANKLES, FEET

# The lab's world (Z up) -> ours (Y up, right-handed).
LAB_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def true_world(cam: Camera) -> WorldFrame:
    """The camera's true world: the lab's up in camera coordinates, its height over the floor."""
    return WorldFrame(up=cam.R @ np.array([0.0, 0.0, 1.0]), height_m=float((-cam.R.T @ cam.t)[2]))


def horizontal_alignment(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """[N,3] `pred` (Y up) rotated about Y and shifted in X/Z to best fit `gt` (least squares)."""
    p, g = pred[:, [0, 2]], gt[:, [0, 2]]
    pc, gc = p.mean(0), g.mean(0)
    u, _, vt = np.linalg.svd((p - pc).T @ (g - gc))
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    out = pred.copy()
    out[:, [0, 2]] = (p - pc) @ r + gc
    return out


def _walker(results, cam: Camera, ref_landmarks: np.ndarray) -> int | None:
    """The track whose 2D keypoints lie closest to the reference walker's projection."""
    from metahmr_trainer.realpix.triangulate import project

    proj = project(cam.P[None], ref_landmarks)[0]  # [F,33,2] undistorted pixels
    best, best_d = None, np.inf
    for tid, t in results.tracks.items():
        d = np.nanmedian(np.linalg.norm(t.keypoints2d[:, 11:29] - proj[t.frame_ids, 11:29], axis=-1))
        if np.isfinite(d) and d < best_d and len(t.frame_ids) >= 10:
            best, best_d = tid, d
    return best


def export_ankles_mm(results) -> list[float] | None:
    """How far the exported skeleton's ankles (`track_animation`'s forward kinematics, world frame)
    are above or below the world arrays' (`joints_world`), mm: the median over every track's frames,
    and the worst track's median (tracks of 10 frames or more); None without one."""
    from metahmr_video.body import body_family
    from metahmr_video.export import track_animation
    from metahmr_video.world import leg_chains

    legs = leg_chains(results.meta["joint_names"], body_family(results.meta["body_model"]).leg_joints)
    ankles = [leg[2] for leg in legs]
    per_track = []
    for tid, t in results.tracks.items():
        if t.joints_world is None or len(t.frame_ids) < 10:
            continue
        fk = track_animation(results, tid, up="y_up", with_mesh=False).joint_positions()[:, ankles, 1]
        per_track.append(np.abs(fk - t.joints_world[np.argsort(t.frame_ids, kind="stable")][:, ankles, 1]).ravel())
    if not per_track:
        return None
    return [round(float(np.median(np.concatenate(per_track))) * 1000, 1),
            round(max(float(np.median(e)) for e in per_track) * 1000, 1)]


def root_motion(track) -> dict:
    """How smoothly a track's root (`transl_world`) moves on the ground over consecutive frames:
    the median and largest horizontal acceleration (cm per frame^2) and the largest step (cm)."""
    run = np.flatnonzero(np.diff(track.frame_ids) != 1)
    root = track.transl_world[: run[0] + 1 if len(run) else None].astype(np.float64)[:, [0, 2]] * 100
    step, acc = np.linalg.norm(np.diff(root, axis=0), axis=-1), np.linalg.norm(np.diff(root, 2, axis=0), axis=-1)
    return {"acc_cm_median": round(float(np.median(acc)), 2), "acc_cm_max": round(float(acc.max()), 1),
            "step_cm_max": round(float(step.max()), 1)} if len(acc) else {}


def score_camera(results, cam: Camera) -> dict:
    """One view's camera figures (height, pitch, roll against the calibration) from its results."""
    truth = true_world(cam)
    out: dict = {"view": cam.name, "true": [round(truth.height_m, 2), round(truth.pitch_deg, 1), round(truth.roll_deg, 1)],
                 "focal": [round(float(results.meta["intrinsics"][0][0])), round(float(cam.K[0, 0])),
                           results.meta.get("focal_from")], "tracks": len(results.tracks)}
    if "camera_to_world" not in results.meta:
        return out | {"world": None}
    w = WorldFrame.from_matrix(np.array(results.meta["camera_to_world"]))
    out |= {"world": [round(w.height_m, 2), round(w.pitch_deg, 1), round(w.roll_deg, 1)],
            "up_from": results.meta["world"].get("up_from"),
            "height_err_m": round(w.height_m - truth.height_m, 3), "pitch_err_deg": round(w.pitch_deg - truth.pitch_deg, 1),
            "roll_err_deg": round(w.roll_deg - truth.roll_deg, 1), "export_ankles_mm": export_ankles_mm(results)}
    return out


def score_view(results, cam: Camera, ref_landmarks: np.ndarray) -> dict:
    """One view's figures (see the module docstring) from its results and the reference [F,33,3] (lab)."""
    out = score_camera(results, cam)
    if out["world"] is None:
        return out
    w = WorldFrame.from_matrix(np.array(results.meta["camera_to_world"]))
    tid = _walker(results, cam, ref_landmarks)
    if tid is None:
        return out
    t = results.tracks[tid]
    kp_w = t.keypoints_world
    if kp_w is None:  # a file from before E71: the feet were held by shifting the whole body
        hold = t.transl_world - w.points(t.transl * t.world_scale[:, None])
        kp_w = w.points(t.keypoints3d * t.world_scale[:, None, None]) + hold[:, None]
    gt = ref_landmarks[t.frame_ids] @ LAB_TO_Y_UP.T
    ok = np.isfinite(gt).all((1, 2))
    ours, ref = standard_from_landmarks(kp_w[ok]), standard_from_landmarks(gt[ok])
    aligned = horizontal_alignment(ours.reshape(-1, 3), ref.reshape(-1, 3)).reshape(ours.shape)
    out["joints_mm"] = round(float(np.linalg.norm(aligned - ref, axis=-1).mean() * 1000), 1)
    out["joints_mm_unplanted"] = round(float(np.linalg.norm(horizontal_alignment(
        standard_from_landmarks(w.points(t.keypoints3d[ok])).reshape(-1, 3), ref.reshape(-1, 3)).reshape(ours.shape) - ref,
        axis=-1).mean() * 1000), 1)
    slides, ankle, ref_ankle = [], [], []
    for side in (0, 1):
        c = t.contacts[:, side]
        foot = kp_w[:, FEET[side]].mean(1)
        step = np.linalg.norm(np.diff(foot[:, [0, 2]], axis=0), axis=-1)
        both = c[1:] & c[:-1] & (np.diff(t.frame_ids) == 1)
        slides.append(step[both])
        ankle.append(kp_w[c, ANKLES[side], 1])
        r = gt[:, FEET[side], 1].min(1)
        ref_ankle.append(gt[(r < 0.05) & ok, ANKLES[side], 1])
    slides, ankle, ref_ankle = np.concatenate(slides), np.concatenate(ankle), np.concatenate(ref_ankle)
    k = np.array(results.meta["intrinsics"])
    before = _project(t.keypoints3d, k)
    after = _project((kp_w - [0.0, w.height_m, 0.0]) @ w.rotation, k)  # the world's keypoints, back in the camera
    moved = np.linalg.norm(after - before, axis=-1)
    conf = t.keypoint_conf.astype(np.float64)

    def error(p: np.ndarray) -> float:  # mean confidence-weighted distance to the detector's 2D, pixels
        return float(((np.linalg.norm(p - t.keypoints2d, axis=-1) * conf).sum(-1) / np.maximum(conf.sum(-1), 1e-9)).mean())
    out |= {"track": int(tid), "frames": int(ok.sum()), "contact_frames": round(float(t.contacts.any(1).mean()), 2),
            "skate_cm_per_frame_median": round(float(np.median(slides) * 100), 2) if len(slides) else None,
            "ankle_in_contact_m": round(float(np.median(ankle)), 3) if len(ankle) else None,
            "ankle_in_contact_spread_m": round(float(np.median(np.abs(ankle - np.median(ankle)))), 3) if len(ankle) else None,
            "ref_ankle_in_contact_m": round(float(np.median(ref_ankle)), 3) if len(ref_ankle) else None,
            "world_2d_moved_px": round(float(moved.mean()), 2),
            "ankle_jitter_px": [_jitter(p, t.contacts) for p in (before[:, list(ANKLES)], t.keypoints2d[:, list(ANKLES)])],
            "root": root_motion(t),
            "reprojection_px": [round(error(before), 2), round(error(after), 2)]}
    return out


def _jitter(ankles: np.ndarray, contacts: np.ndarray) -> float:
    """Mean distance (pixels) of the ankles' image [T,2,2] (left, right) from their 5-frame running
    median over the frames each is in contact: what a foot held still in the world must move in
    the image (E75)."""
    off = np.linalg.norm(ankles - median_filter(ankles, size=(5, 1, 1), mode="nearest"), axis=-1)
    return round(float(off[contacts].mean()), 2) if contacts.any() else float("nan")


def _project(points: np.ndarray, k: np.ndarray) -> np.ndarray:
    """[..., 3] camera-frame metres -> [..., 2] pixels."""
    p = points @ k.T
    return p[..., :2] / p[..., 2:]


def evaluate_world(cache_dir: Path = DEFAULT_CACHE, out_dir: Path = Path("eval_out"), true_focal: bool = True,
                   config=None, progress: bool = True, multi: bool = True) -> dict:
    """Run every view through the product and score it (`multi`: the two-person demo's views too,
    camera only); writes OUT_DIR/world_{true,default}_focal.json."""
    from metahmr_trainer.realpix.detections import cached_detections
    from metahmr_trainer.realpix.reference import build_reference
    from metahmr_video.app.config import Config, override
    from metahmr_video.app.runner import Runner, run_input
    from metahmr_video.core.results import load_results

    demo = fetch_demo(cache_dir)
    cams = read_qca(demo / "calibration" / "Calib.qca.txt")
    videos = [demo / "videos" / f"{c.name}.mp4" for c in cams]
    ref = build_reference([cached_detections(v, cache_dir, progress) for v in videos], cams)
    config = Config() if config is None else config
    runner = Runner(config)
    runs = Path(out_dir) / ("world_true_focal" if true_focal else "world_default_focal")

    def run(cam: Camera, video: Path, where: Path):
        runner.config = override(config, {"adapt.focal": float(cam.K[0, 0]) if true_focal else None})
        run_input(runner, video, where, show_progress=progress)
        return load_results(where / f"{video.stem}.npz")

    rows = [score_view(run(cam, video, runs), cam, ref.landmarks) for cam, video in zip(cams, videos)]
    multi_rows = []
    if multi:
        demo = fetch_demo(cache_dir, MULTI_DEMO)
        multi_rows = [score_camera(run(cam, demo / "videos" / f"{cam.name}.mp4", runs / "multi"), cam)
                      for cam in read_qca(demo / "calibration" / "Calib.qca.txt")]
    res = {"focal": "true (the calibration's)" if true_focal else "the run's own (from the first frame's edges, else "
           "the image diagonal)", "views": rows, "multi": multi_rows}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / f"world_{'true' if true_focal else 'default'}_focal.json").write_text(json.dumps(res, indent=1))
    return res


def format_table(res: dict) -> str:
    """The per-view table of `evaluate_world`."""
    lines = [f"world (pose2sim Demo_SinglePerson, focal: {res['focal']}); camera truth from the calibration, "
             "joints against the 4-view triangulation of MediaPipe's 2D", "",
             "| view | focal px (true; from) | camera h / pitch / roll (true) | ours | up from | joints mm (unplanted) | "
             "skate cm/frame | ankle in contact m (ref) | 2D moved px | reprojection px (camera -> world) | "
             "export's ankles mm (median / worst track) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(v) -> str:
        return "-" if v is None else " / ".join(str(x) for x in v)
    for r in res["views"]:
        lines.append(f"| {r['view']} | {r['focal'][0]} ({r['focal'][1]}; {r['focal'][2]}) | {fmt(r['true'])} | {fmt(r.get('world'))} | {r.get('up_from', '-')} | "
                     f"{r.get('joints_mm', '-')} ({r.get('joints_mm_unplanted', '-')}) | {r.get('skate_cm_per_frame_median', '-')} | "
                     f"{r.get('ankle_in_contact_m', '-')} ({r.get('ref_ankle_in_contact_m', '-')}) | {r.get('world_2d_moved_px', '-')} | "
                     f"{fmt(r.get('reprojection_px'))} | {fmt(r.get('export_ankles_mm'))} |")
    if res.get("multi"):
        lines += ["", "Demo_MultiPerson (the same cameras; two walkers and a bystander), camera only:", "",
                  "| view | focal px (true; from) | tracks | camera h / pitch / roll (true) | ours | up from | error h m / pitch / roll deg | "
                  "export's ankles mm (median / worst track) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in res["multi"]:
            err = "-" if r.get("world") is None else f"{r['height_err_m']:+.2f} / {r['pitch_err_deg']:+.1f} / {r['roll_err_deg']:+.1f}"
            lines.append(f"| {r['view']} | {r['focal'][0]} ({r['focal'][1]}; {r['focal'][2]}) | {r['tracks']} | "
                         f"{fmt(r['true'])} | {fmt(r.get('world'))} | {r.get('up_from', '-')} | {err} | "
                         f"{fmt(r.get('export_ankles_mm'))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--default-focal", action="store_true",
                    help="the run's own focal (from the first frame's edges, else the image diagonal), not the calibration's")
    ap.add_argument("--out-dir", default="eval_out")
    ap.add_argument("--no-multi", action="store_true", help="the single-person demo only")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config setting as YAML, e.g. world.feet.hold_s=0.25 or world.lines=false (repeatable)")
    a = ap.parse_args()
    import yaml

    from metahmr_video.app.config import Config, override

    config = override(Config(), {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in a.set)})
    print(format_table(evaluate_world(out_dir=Path(a.out_dir), true_focal=not a.default_focal, config=config,
                                      progress=False, multi=not a.no_multi)))

"""Front/back label flips fixed per track (metahmr_video.track.facing), against the sequence the
flips were made from."""
from __future__ import annotations

import numpy as np

from metahmr_video.core.layout import MEDIAPIPE_33
from metahmr_video.core.records import Detection
from metahmr_video.track import Tracker, TrackerConfig
from metahmr_video.track.facing import FacingConfig, FacingFilter, swap_sides


def _body() -> np.ndarray:
    """33 world landmarks (metres, y down) of a person facing the camera: left side at +x."""
    pts = np.zeros((33, 3))
    heights = {"shoulder": -0.45, "elbow": -0.2, "wrist": 0.0, "pinky": 0.05, "index": 0.05, "thumb": 0.04,
               "hip": 0.0, "knee": 0.45, "ankle": 0.85, "heel": 0.88, "foot_index": 0.88, "eye": -0.7,
               "ear": -0.68, "mouth": -0.62}
    for i, n in enumerate(MEDIAPIPE_33):
        side = 1.0 if n.startswith("left") else -1.0 if n.startswith("right") else 0.0
        part = next((h for k, h in heights.items() if k in n), -0.72)
        width = 0.1 if "hip" in n or "knee" in n or "ankle" in n or "heel" in n or "foot" in n else 0.2
        pts[i] = (side * width, part, -0.08 if "foot_index" in n or n == "nose" else 0.0)
    return pts


def _detection(yaw: float) -> Detection:
    """The person turned by `yaw` radians about the vertical, seen by a camera 3 m away."""
    c, s = np.cos(yaw), np.sin(yaw)
    w = _body() @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
    kp = 500 * w[:, :2] / (3.0 + w[:, 2:]) + [320, 240]
    box = np.r_[kp.min(0) - 10, kp.max(0) + 10].astype(np.float32)
    return Detection(box=box, score=0.9, keypoints2d=kp.astype(np.float32), keypoint_conf=np.ones(33, np.float32),
                     world_landmarks=w.astype(np.float32))


def _sequence(frames: int = 90) -> list[Detection]:
    """A person turning steadily by 90 degrees (1 degree per frame), then standing."""
    return [_detection(np.radians(min(i, 90))) for i in range(frames)]


def test_single_frames_and_short_runs_of_swapped_labels_are_swapped_back():
    truth = _sequence()
    flipped = {10, 30, 31, 32} | set(range(50, 62))  # single frames and a 12-frame run, mid-turn included
    seen = [swap_sides(d) if i in flipped else d for i, d in enumerate(truth)]
    fix = FacingFilter()
    for i, (d, t) in enumerate(zip(seen, truth)):
        out = fix(d)
        np.testing.assert_allclose(out.keypoints2d, t.keypoints2d, err_msg=f"frame {i}")
        np.testing.assert_allclose(out.world_landmarks, t.world_landmarks, err_msg=f"frame {i}")
    # a steady turn with its labels as given is left alone
    fix = FacingFilter()
    assert all(fix(d) is d for d in truth)


def test_a_long_run_is_taken_as_the_truth_after_turn_cost_over_swap_cost_frames():
    cfg = FacingConfig(turn_cost=1.0, swap_cost=0.05)
    seq = _sequence(120)
    seen = seq[:20] + [swap_sides(d) for d in seq[20:]]  # from frame 20 on, the other labelling for good
    fix = FacingFilter(cfg)
    changed = [fix(d) is not d for d in seen]
    assert not any(changed[:20])
    first_kept = 20 + changed[20:].index(False)
    assert abs(first_kept - (20 + cfg.turn_cost / cfg.swap_cost)) <= 1
    assert not any(changed[first_kept:])


def test_frames_that_cannot_tell_keep_the_current_labelling():
    truth = _sequence(40)
    seen = [swap_sides(d) if 20 <= i < 25 else d for i, d in enumerate(truth)]
    seen[22] = Detection(seen[22].box, 0.9, seen[22].keypoints2d, np.full(33, 0.2, np.float32), seen[22].world_landmarks)
    seen[23] = Detection(seen[23].box, 0.9, seen[23].keypoints2d, seen[23].keypoint_conf, None)
    fix = FacingFilter()
    out = [fix(d) for d in seen]
    for i in range(20, 25):
        np.testing.assert_allclose(out[i].keypoints2d, truth[i].keypoints2d, err_msg=f"frame {i}")


def test_tracker_reports_the_fixed_labels_and_can_be_told_not_to():
    truth = _sequence(30)
    seen = [swap_sides(d) if i in (12, 13) else d for i, d in enumerate(truth)]
    for enabled in (True, False):
        tracker = Tracker(TrackerConfig(min_hits=1, facing=FacingConfig(enabled=enabled)))
        people = [tracker.update([d])[0] for d in seen]
        assert {p.track_id for p in people} == {1}
        expect = truth if enabled else seen
        for i, p in enumerate(people):
            np.testing.assert_allclose(p.detection.keypoints2d, expect[i].keypoints2d, err_msg=f"{enabled} {i}")

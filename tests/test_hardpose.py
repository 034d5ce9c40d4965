"""The hard-pose evaluation (trainer/hardpose.py): each pose category has the geometry its name
says (in Anny's world frame: Z up), the framing shows the whole person, and the scores match
hand-computed numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metahmr_trainer import hardpose as hp


@pytest.fixture(scope="module")
def landmarks(anny_body) -> dict[str, torch.Tensor]:
    """32 posed bodies per category: MediaPipe-33 landmarks [32,33,3] in Anny's frame (Z up, m)."""
    from metahmr_video.core.rotations import axis_angle_to_rotmat

    rig = hp.Rig(anny_body)
    out = {}
    for name, fn in hp.CATEGORIES.items():
        rot = fn(rig, torch.Generator().manual_seed(3), 32)
        out[name] = anny_body(axis_angle_to_rotmat(rot), return_vertices=False).keypoints
    return out


def _torso_from_vertical(k: torch.Tensor) -> torch.Tensor:
    """[N] degrees between the hips-to-shoulders line and straight up."""
    axis = k[:, 11:13].mean(1) - k[:, 23:25].mean(1)
    return torch.rad2deg(torch.acos(axis[:, 2] / axis.norm(dim=-1)))


def _z(k: torch.Tensor, *idx: int) -> torch.Tensor:
    return k[:, list(idx), 2]


def test_lying_bodies_are_horizontal_with_a_leg_raised(landmarks):
    k = landmarks["lying_back_leg_raised"]
    assert (_torso_from_vertical(k) - 90).abs().max() < 20
    hip = _z(k, 23, 24).mean(1)
    assert (_z(k, 25, 26).max(1).values - hip > 0.25).all()  # a knee well above the hips
    nose_up = k[:, 0, 2] - k[:, 11:13, 2].mean(1)
    assert (nose_up > 0).all()  # on the back: the face looks up


def test_all_fours_torso_level_knees_and_hands_below(landmarks):
    k = landmarks["all_fours"]
    hip, shoulder = _z(k, 23, 24).mean(1), _z(k, 11, 12).mean(1)
    assert ((shoulder - hip).abs() < 0.2).all()
    assert (_z(k, 25, 26).max(1).values < hip - 0.3).all()
    assert (_z(k, 15, 16).max(1).values < shoulder - 0.4).all()  # arms straight down
    knee, wrist = _z(k, 25, 26).mean(1), _z(k, 15, 16).mean(1)
    assert ((knee - wrist).abs() < 0.15).all()  # hands and knees on one floor


def test_kneeling_upright_and_sitting_on_the_floor(landmarks):
    k = landmarks["kneeling_upright"]
    assert (_torso_from_vertical(k) < 25).all()
    low_knee, low_ankle = _z(k, 25, 26).min(1).values, _z(k, 27, 28).min(1).values
    assert (_z(k, 23, 24).mean(1) - low_knee > 0.3).all() and ((low_knee - low_ankle).abs() < 0.15).all()
    s = landmarks["sitting_floor"]
    assert (_torso_from_vertical(s) < 30).all()
    assert ((_z(s, 27, 28).mean(1) - _z(s, 23, 24).mean(1)).abs() < 0.3).all()  # feet at the seat's level


def test_wide_stance_feet_far_apart(landmarks):
    k = landmarks["wide_stance"]
    ankles, hips = (k[:, 27] - k[:, 28]).norm(dim=-1), (k[:, 23] - k[:, 24]).norm(dim=-1)
    assert (ankles > 3 * hips).all()  # MediaPipe's hip landmarks are ~0.18 m apart: > 1.5x the pelvis width
    standing = landmarks["arms_overhead"]
    assert ((standing[:, 27] - standing[:, 28]).norm(dim=-1).median() < ankles.min())


def test_bending_overhead_and_tuck(landmarks):
    bend = landmarks["bending_forward"]
    assert (_torso_from_vertical(bend) > 50).all() and (_torso_from_vertical(bend) < 110).all()
    assert (_z(bend, 15, 16).max(1).values < _z(bend, 11, 12).mean(1)).all()  # arms hang
    up = landmarks["arms_overhead"]
    assert (_z(up, 15, 16).min(1).values > up[:, 0, 2] + 0.1).all()  # both wrists above the head
    tuck = landmarks["jump_tuck"]
    assert (_z(tuck, 25, 26).mean(1) > _z(tuck, 23, 24).mean(1) - 0.05).all()  # knees up at the hips


def test_framing_shows_the_whole_person_or_cuts_it(anny_body):
    from metahmr_video.body.anny_body import FULL_TOPOLOGY
    from metahmr_video.body import AnnyBody
    from metahmr_video.core.camera import project

    class Models:  # what sample_bodies takes from a SampleRenderer
        fit_body, full_body = anny_body, AnnyBody(topology=FULL_TOPOLOGY)

    rig = hp.Rig(anny_body)
    for name in ("lying_back_leg_raised", "cut_by_frame"):
        b = hp.sample_bodies(Models, rig, name, 4, torch.Generator().manual_seed(1))
        uv = project(b["vertices"], b["focal"], b["image_size"] / 2)
        inside = ((uv >= 0) & (uv < b["image_size"][:, None])).all(-1).all(-1)
        d = b["transl"][:, 2]
        if name == "cut_by_frame":
            assert (~inside[b["cut"] >= 0]).all() and (b["cut"] >= 0).any()
        else:
            extent = (uv.max(1).values - uv.min(1).values).max(-1).values
            assert inside.all() and ((d >= 3) & (d <= 6)).all() and (extent > 150).all() and (extent < 520).all()


def test_scores_against_hand_computed_numbers():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(2, 33, 3))
    rot = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))[0].numpy()
    moved = 0.7 * true @ rot.T + np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(hp.pa_mpjpe(moved, true), 0.0, atol=1e-3)  # mm
    shifted = true.copy()
    shifted[:, 25] += [0.03, 0.0, 0.0]  # one knee 3 cm off: the alignment can only lower the RMS error
    assert 0 < hp.pa_mpjpe(shifted, true).max() <= 30 / math.sqrt(15)

    kp = np.zeros((1, 33, 2))
    kp[0, :, 1] = np.linspace(100, 500, 33)  # the person is 400 px tall
    kp[0, :, 0] = 300
    kp[0, 27, 1] = 900  # the left ankle lies below a 640x640 image
    pred = kp.copy()
    pred[..., 0] += 8.0  # 8 px off everywhere: 2 % of 800 px (the extent includes the ankle)
    pred[0, 27] += 1000  # a landmark outside the image does not count
    np.testing.assert_allclose(hp.limb_error_2d(pred, kp, np.array([[640.0, 640.0]])), [100 * 8 / 800])


def test_evaluation_rows_per_category_and_catastrophes():
    n = 4
    true = np.random.default_rng(1).normal(size=(n, 33, 3)).astype(np.float32)
    kp2d = np.tile(np.linspace(0, 200, 33)[None, :, None], (n, 1, 2)).astype(np.float32)
    split = {"category": np.array([0, 0, 1, 1]), "categories": np.array(["a", "b"]),
             "found": np.array([True, True, True, False]), "keypoints3d": true, "kp2d": kp2d,
             "image_size": np.full((n, 2), 640, np.float32), "det_world": true.copy(), "det_kp2d": kp2d + 30.0}
    ev = hp.Evaluation(split)
    worse = true[:3].copy()
    worse[0, 25:29] += 0.5  # legs 50 cm off: a catastrophe in category a
    ev.score_method("ours", worse, kp2d[:3])
    s = ev.summary()
    assert s["a"]["found"] == 2 and s["b"]["recall"] == 0.5 and s["total"]["n"] == 4
    assert s["a"]["methods"]["MediaPipe (input)"]["pa"] == pytest.approx(0.0, abs=1e-3)
    assert s["a"]["methods"]["ours"]["catastrophes"] == 1 and s["b"]["methods"]["ours"]["catastrophes"] == 0
    assert s["total"]["methods"]["MediaPipe (input)"]["bad2d"] == 1.0  # 42 px off in a 200 px person: 21 %
    assert s["total"]["methods"]["ours"]["err2d"] == 0.0
    assert "| a | 2 | 100 % |" in hp.format_table(s)
    with pytest.raises(ValueError):
        ev.score_method("short", worse[:1], kp2d[:1])


def test_rig_mirror_swaps_sides_and_keeps_the_middle(anny_body):
    rig = hp.Rig(anny_body)
    rot = rig.zeros(1)
    rig.set(rot, "LeftUpLeg", -1.0, 0.2, 0.1)
    rig.set(rot, "Spine", 0.3, 0.1, 0.2)
    m = rig.mirror(rot, torch.tensor([True]))
    np.testing.assert_allclose(m[0, rig.idx["RightUpLeg"]].numpy(), [-1.0, -0.2, -0.1])
    np.testing.assert_allclose(m[0, rig.idx["Spine"]].numpy(), [0.3, -0.1, -0.2])
    assert float(m[0, rig.idx["LeftUpLeg"]].abs().sum()) == 0.0
    assert math.isclose(float(rig.mirror(rot, torch.tensor([False]))[0, rig.idx["LeftUpLeg"], 0]), -1.0)

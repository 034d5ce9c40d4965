"""Per-track landmark definitions from MediaPipe's world landmarks: a known constant offset of the
hips and shoulders in the body's frame, seen through a different similarity transform every frame
(MediaPipe's own frame and scale), is recovered and added to the body's landmarks; unseen landmarks
and fallback frames do not count; the body itself is untouched."""
import numpy as np
import roma
import torch

from metahmr_video.core.layout import Landmark as L
from metahmr_video.core.records import PersonBody
from metahmr_video.smooth import DefinitionsConfig, LandmarkDefinitions
from metahmr_video.smooth.landmark_definitions import body_frames, world_offsets

TORSO = [L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP]
# MediaPipe's definitions relative to the body's joints (metres, body frame: x to the left hip, y up, z = x cross y)
OFFSET = np.array([[0.01, 0.03, -0.04], [-0.01, 0.03, -0.03], [-0.02, -0.03, 0.0], [0.02, -0.025, 0.01]])


def _skeleton(rng):
    """33 landmarks (metres, body frame) of a standing person, limbs randomly bent."""
    k = rng.normal(scale=0.05, size=(33, 3))
    k[L.LEFT_HIP], k[L.RIGHT_HIP] = [0.1, 0, 0], [-0.1, 0, 0]
    k[L.LEFT_SHOULDER], k[L.RIGHT_SHOULDER] = [0.18, 0.5, 0.02], [-0.18, 0.5, 0.0]
    for side, x in ((0, 1), (1, -1)):
        k[[L.LEFT_KNEE, L.RIGHT_KNEE][side]] = [0.1 * x, -0.42, 0.05] + rng.normal(scale=0.03, size=3)
        k[[L.LEFT_ANKLE, L.RIGHT_ANKLE][side]] = [0.1 * x, -0.82, 0.0] + rng.normal(scale=0.05, size=3)
        k[[L.LEFT_ELBOW, L.RIGHT_ELBOW][side]] = [0.25 * x, 0.25, 0.0] + rng.normal(scale=0.05, size=3)
        k[[L.LEFT_WRIST, L.RIGHT_WRIST][side]] = [0.3 * x, 0.0, 0.1] + rng.normal(scale=0.08, size=3)
    return k


def _frame(rng, i, conf=None, fallback=False, noise=0.0):
    """(person, landmarks in MediaPipe's definitions in the camera frame) of one frame; MediaPipe's
    world landmarks with `noise` (metres) on each coordinate."""
    body = _skeleton(rng)
    R = roma.random_rotmat(generator=torch.Generator().manual_seed(i)).double().numpy()
    cam = body @ R.T + [0.3, -0.1, 4.0]
    axes = body_frames(cam[None])[0]
    truth = cam.copy()
    truth[TORSO] += OFFSET @ axes.T
    # MediaPipe's world frame: another rotation, scale and origin
    Rw = roma.random_rotmat(generator=torch.Generator().manual_seed(1000 + i)).double().numpy()
    world = 0.9 * (truth - truth[[L.LEFT_HIP, L.RIGHT_HIP]].mean(0) + rng.normal(scale=noise, size=(33, 3))) @ Rw.T
    p = PersonBody(track_id=7, frame_index=i, time_s=i / 30, pose=np.tile(np.eye(3, dtype=np.float32), (31, 1, 1)),
                   shape=np.full(6, 0.5, np.float32), transl=cam[0].astype(np.float32),
                   joints=np.zeros((31, 3), np.float32), keypoints3d=cam.astype(np.float32),
                   keypoints2d=np.zeros((33, 2), np.float32),
                   keypoint_conf=np.ones(33, np.float32) if conf is None else conf, box=np.zeros(4, np.float32),
                   reproj_error=1.0, fallback=fallback, world_landmarks=world.astype(np.float32))
    return p, truth


def test_world_offsets_of_the_body_itself_are_zero():
    rng = np.random.default_rng(0)
    p, _ = _frame(rng, 0)
    world = 1.3 * p.keypoints3d @ roma.random_rotmat().numpy().T + 2.0
    np.testing.assert_allclose(world_offsets(p.keypoints3d[None], world[None]), 0.0, atol=1e-5)


def test_definitions_recover_a_constant_offset_in_the_body_frame():
    rng = np.random.default_rng(1)
    stage = LandmarkDefinitions()
    errors_before, errors_after = [], []
    for i in range(20):
        p, truth = _frame(rng, i, noise=0.01)
        out = stage([p])[0]
        errors_before.append(np.linalg.norm(p.keypoints3d[TORSO] - truth[TORSO], axis=-1).mean())
        errors_after.append(np.linalg.norm(out.keypoints3d[TORSO] - truth[TORSO], axis=-1).mean())
        others = np.setdiff1d(np.arange(33), TORSO)
        np.testing.assert_array_equal(out.keypoints3d[others], p.keypoints3d[others])
        np.testing.assert_array_equal(out.joints, p.joints)
        np.testing.assert_array_equal(out.pose, p.pose)
    assert np.mean(errors_before) > 0.04
    # one frame: MediaPipe's noise; twenty: its mean (aligned on the limbs, whose definitions agree)
    assert errors_after[-1] < 0.5 * errors_after[0] and errors_after[-1] < 0.25 * errors_before[-1], errors_after
    clean = LandmarkDefinitions()
    p, truth = _frame(rng, 99)
    np.testing.assert_allclose(clean([p])[0].keypoints3d[TORSO], truth[TORSO], atol=1e-5)


def test_unseen_landmarks_fallback_frames_and_old_tracks_do_not_count():
    rng = np.random.default_rng(2)
    stage = LandmarkDefinitions(DefinitionsConfig(min_conf=0.5))
    conf = np.ones(33, np.float32)
    conf[L.LEFT_HIP] = 0.1  # outside the image: MediaPipe's guess
    p, _ = _frame(rng, 0, conf=conf)
    out = stage([p])[0]
    np.testing.assert_array_equal(out.keypoints3d[L.LEFT_HIP], p.keypoints3d[L.LEFT_HIP])
    assert np.linalg.norm(out.keypoints3d[L.RIGHT_HIP] - p.keypoints3d[L.RIGHT_HIP]) > 0.01
    stage.reset()
    p, _ = _frame(rng, 1, fallback=True)
    np.testing.assert_array_equal(stage([p])[0].keypoints3d, p.keypoints3d)
    stage([_frame(rng, 2)[0]])
    assert 7 in stage.tracks
    later, _ = _frame(rng, 3)
    stage([PersonBody(**{**later.__dict__, "track_id": 8, "time_s": 61.0})])
    assert 7 not in stage.tracks and 8 in stage.tracks  # unseen for more than forget_after_s
    off = LandmarkDefinitions(DefinitionsConfig(landmarks=[]))
    np.testing.assert_array_equal(off([p])[0].keypoints3d, p.keypoints3d)

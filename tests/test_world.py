"""The world frame (metahmr_video.world) against known geometry: a camera of known height, pitch
and roll, people's feet on its ground, vertical edges drawn through its projection, contacts from
a known gait, and a planting that must leave the image as it was."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from metahmr_video.core.layout import Landmark
from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.results import load_results
from metahmr_video.sinks import NpzSink
from metahmr_video.world import (FeetConfig, WorldConfig, WorldEstimator, WorldFrame, bend_legs, fit_ground,
                                 foot_contacts, lock_offsets, planting_scale)
from metahmr_video.world.lines import (focal_from_vanishing_points, line_planes, line_segments, up_from_horizontals,
                                      vertical_direction)

K = np.array([[800.0, 0.0, 320.0], [0.0, 800.0, 240.0], [0.0, 0.0, 1.0]])


def camera(height: float, pitch_deg: float, roll_deg: float) -> WorldFrame:
    """The WorldFrame of a camera at `height` metres, pitched then rolled (yaw-pitch-roll)."""
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    up = np.array([np.cos(p) * np.sin(r), -np.cos(p) * np.cos(r), np.sin(p)])
    return WorldFrame(up=up, height_m=height)


def to_camera(world: WorldFrame, points_world: np.ndarray) -> np.ndarray:
    """World points -> camera frame (the inverse of WorldFrame.points)."""
    return (points_world - np.array([0.0, world.height_m, 0.0])) @ world.rotation


def test_world_frame_conventions():
    w = camera(1.9, -22.5, 13.4)
    assert w.pitch_deg == pytest.approx(-22.5) and w.roll_deg == pytest.approx(13.4)
    r = w.rotation
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(w.points(np.zeros(3)), [0.0, 1.9, 0.0], atol=1e-12)   # the camera, above the origin
    forward = w.points(np.array([0.0, 0.0, 1.0])) - w.points(np.zeros(3))
    assert forward[0] == pytest.approx(0.0, abs=1e-12) and forward[2] < 0          # it looks along -Z
    ground = to_camera(w, np.array([[0.5, 0.0, -4.0], [-1.0, 0.0, -6.0]]))
    np.testing.assert_allclose(w.heights(ground), 0.0, atol=1e-12)
    np.testing.assert_allclose(WorldFrame.from_matrix(w.camera_to_world).rotation, r, atol=1e-12)


def _people(world: WorldFrame, n: int, rng: np.random.Generator, up_noise_deg: float = 3.0):
    """Per person-frame ups and supports (camera frame) of people standing on `world`'s ground,
    a fifth of them with the support foot lifted 20-40 cm (a jump, a step)."""
    feet_w = np.c_[rng.uniform(-2, 2, n), np.zeros(n) + 0.03, rng.uniform(-7, -3, n)]
    feet_w[rng.random(n) < 0.2, 1] += rng.uniform(0.2, 0.4)
    supports = to_camera(world, feet_w)
    tilt = np.radians(up_noise_deg) * rng.normal(size=(n, 3))
    ups_w = np.array([0.0, 1.0, 0.0]) + tilt
    ups = (ups_w / np.linalg.norm(ups_w, axis=1, keepdims=True)) @ world.rotation
    return ups, supports


def test_fit_ground_recovers_a_known_camera():
    rng = np.random.default_rng(0)
    truth = camera(2.1, -25.0, -8.0)
    ups, supports = _people(truth, 400, rng)
    got = fit_ground(ups, supports)
    assert got.height_m == pytest.approx(2.1, abs=0.03)
    assert got.pitch_deg == pytest.approx(-25.0, abs=1.0) and got.roll_deg == pytest.approx(-8.0, abs=1.0)
    # A given up (the image's verticals) is kept; the height still comes from the feet.
    fixed = fit_ground(ups, supports, up=truth.up)
    np.testing.assert_allclose(fixed.up, truth.up, atol=1e-9)
    assert fixed.height_m == pytest.approx(2.1, abs=0.02)
    assert fit_ground(ups[:3], supports[:3]) is None


def test_a_person_fitted_too_large_does_not_move_the_ground():
    """A monocular body's size error scales all its frames about the camera: a far person fitted 15 %
    too large stands 15 % of the camera's height too low wherever they are. Two near walkers and that
    person: the ground is the people's median, not pulled by the far one's many frames."""
    rng = np.random.default_rng(3)
    truth = camera(1.9, -22.0, 5.0)
    ups, supports, people = [], [], []
    for k, (x, z, scale) in enumerate([((-1.5, 1.5), (-5.0, -3.0), 1.0), ((-1.0, 1.0), (-4.5, -3.5), 1.02),
                                       ((-2.5, -2.0), (-7.5, -7.0), 1.15)]):
        n = 150 if k < 2 else 400
        feet = np.c_[rng.uniform(*x, n), np.full(n, 0.03), rng.uniform(*z, n)]
        supports.append(to_camera(truth, feet) * scale)
        ups.append(np.tile(truth.up, (n, 1)))
        people.append(np.full(n, k))
    ups, supports, people = np.concatenate(ups), np.concatenate(supports), np.concatenate(people)
    got = fit_ground(ups, supports, up=truth.up, people=people)
    assert got.height_m == pytest.approx(1.9 * 1.02, abs=0.01)  # the median person
    pooled = fit_ground(ups, supports, up=truth.up)  # every frame counted as one person's
    assert pooled.height_m > 1.9 * 1.04


def _vertical_edges_image(world: WorldFrame, rng: np.random.Generator) -> np.ndarray:
    """A 640x480 image of vertical poles (1.5-2.5 m) standing on `world`'s ground, and some
    horizontal edges, drawn through K."""
    img = np.full((480, 640), 40, np.uint8)
    for _ in range(14):
        base = np.array([rng.uniform(-3, 3), 0.0, rng.uniform(-9, -4)])
        top = base + [0.0, rng.uniform(1.5, 2.5), 0.0]
        a, b = (to_camera(world, np.stack([base, top])) @ K.T)[:, :2] / (to_camera(world, np.stack([base, top])) @ K.T)[:, 2:]
        cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), 230, 3)
    for _ in range(6):
        y = int(rng.uniform(50, 430))
        cv2.line(img, (int(rng.uniform(0, 200)), y), (int(rng.uniform(400, 640)), y + int(rng.uniform(-20, 20))), 200, 3)
    return img


def test_vertical_edges_give_the_up_direction():
    rng = np.random.default_rng(1)
    truth = camera(1.7, -18.0, 6.0)
    normals, lengths = line_planes(_vertical_edges_image(truth, rng), K)
    rough = camera(1.7, -10.0, 15.0).up                      # the bodies' up: ~12 degrees off
    up = vertical_direction(normals, lengths, rough)
    assert np.degrees(np.arccos(np.clip(up @ truth.up, -1, 1))) < 1.0
    assert vertical_direction(normals[:3], lengths[:3], rough) is None


def _boxes_image(world: WorldFrame, K: np.ndarray, rng: np.random.Generator, yaw_deg: float = 35.0) -> np.ndarray:
    """A 640x480 image of the 12 edges of box frames (vertical, and horizontal along two orthogonal
    ground directions `yaw_deg` off the camera's) standing on `world`'s ground, drawn through K."""
    img = np.full((480, 640), 40, np.uint8)
    y = np.radians(yaw_deg)
    ax, az = np.array([np.cos(y), 0.0, np.sin(y)]), np.array([-np.sin(y), 0.0, np.cos(y)])
    for _ in range(6):
        o = np.array([rng.uniform(-3, 3), 0.0, rng.uniform(-10, -5)])
        sx, sy, sz = rng.uniform(0.8, 2.0, 3)
        corners = {(i, j, k): o + i * sx * ax + j * sy * np.array([0.0, 1.0, 0.0]) + k * sz * az
                   for i in (0, 1) for j in (0, 1) for k in (0, 1)}
        for (i, j, k), a in corners.items():
            for d in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
                b = corners.get((i + d[0], j + d[1], k + d[2]))
                if b is not None:
                    p = to_camera(world, np.stack([a, b])) @ K.T
                    p = p[:, :2] / p[:, 2:]
                    a16, b16 = (tuple(int(round(16 * v)) for v in q) for q in p)   # sub-pixel, anti-aliased
                    cv2.line(img, a16, b16, 220, 2, cv2.LINE_AA, 4)
    return img


def test_vanishing_points_give_the_focal():
    rng = np.random.default_rng(2)
    truth = camera(1.8, -20.0, 8.0)
    K560 = np.array([[560.0, 0.0, 320.0], [0.0, 560.0, 240.0], [0.0, 0.0, 1.0]])  # 0.7 x the diagonal
    img = _boxes_image(truth, K560, rng)
    f = focal_from_vanishing_points(img, (640, 480))                    # prior: the image's up
    assert f == pytest.approx(560.0, rel=0.03)
    rough = camera(1.8, -10.0, 15.0).up                                 # the bodies' up, ~12 degrees off
    assert focal_from_vanishing_points(line_segments(img), (640, 480), up_prior=rough) == pytest.approx(560.0, rel=0.03)
    # Poles and random horizontal strokes: no three orthogonal directions, no focal.
    assert focal_from_vanishing_points(_vertical_edges_image(truth, rng), (640, 480)) is None


def test_horizontal_vanishing_points_give_the_up_when_the_vertical_edges_mislead():
    """Box frames seen by a camera (f 560 px) plus 24 long strokes towards a wrong vertical point, 6
    degrees off (E70: a view whose strongest 'vertical' edges are not): the vertical edges follow the
    decoy, the two horizontal vanishing points still give the up within half a degree, and the focal
    comes from them (the three pair focals disagree)."""
    rng = np.random.default_rng(4)
    truth = camera(1.8, -20.0, 8.0)
    K560 = np.array([[560.0, 0.0, 320.0], [0.0, 560.0, 240.0], [0.0, 0.0, 1.0]])
    img = _boxes_image(truth, K560, rng)
    decoy = K560 @ camera(1.8, -26.0, 8.0).up
    decoy = decoy[:2] / decoy[2]
    for _ in range(24):
        a = np.array([rng.uniform(40, 600), rng.uniform(40, 440)])
        b = a + 150.0 * (decoy - a) / np.linalg.norm(decoy - a)
        cv2.line(img, tuple(int(round(16 * v)) for v in a), tuple(int(round(16 * v)) for v in b), 220, 2, cv2.LINE_AA, 4)
    normals, lengths = line_planes(img, K560)
    rough = camera(1.8, -12.0, 15.0).up                                 # the bodies' up, ~10 degrees off
    angle = lambda u: np.degrees(np.arccos(np.clip(abs(u @ truth.up), -1, 1)))  # noqa: E731
    assert angle(vertical_direction(normals, np.sqrt(lengths), rough, inlier_deg=0.5)) > 4.0
    assert angle(up_from_horizontals(normals, lengths, rough)) < 0.5
    assert focal_from_vanishing_points(img, (640, 480)) == pytest.approx(560.0, rel=0.03)
    assert up_from_horizontals(*line_planes(_vertical_edges_image(truth, rng), K560), rough) is None


def _track(world: WorldFrame, t: int, fps: float):
    """A person stepping in place: left foot planted on frames 0-14 while the right swings 10 cm
    up, then the other way; camera-frame keypoints placed 8 % too far (and 8 % too large: a
    monocular fit's scale error), and their projections as the 2D evidence."""
    kp_w = np.zeros((t, 33, 3))
    kp_w[:, :, 2] = -5.0
    kp_w[:, Landmark.LEFT_SHOULDER] = [-0.2, 1.45, -5.0]
    kp_w[:, Landmark.RIGHT_SHOULDER] = [0.2, 1.45, -5.0]
    for side, x in ((0, -0.1), (1, 0.1)):
        heel, toe = (Landmark.LEFT_HEEL, Landmark.LEFT_FOOT_INDEX) if side == 0 else (Landmark.RIGHT_HEEL, Landmark.RIGHT_FOOT_INDEX)
        ankle = Landmark.LEFT_ANKLE if side == 0 else Landmark.RIGHT_ANKLE
        swing = (np.arange(t) >= t // 2) if side == 0 else (np.arange(t) < t // 2)
        lift = np.where(swing, 0.1 + 0.05 * np.sin(np.arange(t)), 0.0)
        dx = np.where(swing, 0.03 * np.sin(np.arange(t)), 0.0)
        kp_w[:, heel] = np.c_[x + dx, 0.03 + lift, np.full(t, -5.0)]
        kp_w[:, toe] = np.c_[x + dx, 0.03 + lift, np.full(t, -5.2)]
        kp_w[:, ankle] = np.c_[x + dx, 0.1 + lift, np.full(t, -4.95)]
    kp = to_camera(world, kp_w) * 1.08
    proj = kp @ K.T
    kp2d = proj[..., :2] / proj[..., 2:]
    boxes = np.c_[kp2d.min(1), kp2d.max(1)]
    return kp, kp2d, boxes, np.arange(t) / fps


def test_contacts_and_planting_keep_the_image():
    world = camera(1.8, -20.0, 5.0)
    kp, kp2d, boxes, time_s = _track(world, 30, 30.0)
    contacts = foot_contacts(kp, kp2d, boxes, time_s, world, FeetConfig())
    assert contacts[2:13, 0].all() and not contacts[17:, 0].any()      # left planted, then swinging
    assert contacts[17:28, 1].all() and not contacts[:13, 1].any()
    scale = planting_scale(kp, contacts, world, 0.03, time_s, smooth_s=0.0)
    np.testing.assert_allclose(scale, 1 / 1.08, rtol=1e-6)               # the fit's 8 % undone
    planted = kp * scale[:, None, None]
    before, after = kp @ K.T, planted @ K.T
    np.testing.assert_allclose(after[..., :2] / after[..., 2:], before[..., :2] / before[..., 2:], atol=1e-6)
    heel = world.heights(planted[contacts[:, 0], Landmark.LEFT_HEEL])
    np.testing.assert_allclose(heel, 0.03, atol=1e-6)


def test_npz_sink_writes_the_world(tmp_path):
    world = camera(1.8, -20.0, 5.0)
    kp, kp2d, boxes, time_s = _track(world, 30, 30.0)
    sink = NpzSink(tmp_path / "w.npz", dict(body_model="anny", fps=30.0, image_size=[640, 480], intrinsics=K.tolist()),
                   world=WorldEstimator(K, WorldConfig(lines=False)))
    for i in range(30):
        joints = kp[i, [Landmark.LEFT_HEEL, Landmark.RIGHT_SHOULDER]]
        sink.write(Frame(i, float(time_s[i]), np.zeros((480, 640, 3), np.uint8)), [PersonBody(
            track_id=1, frame_index=i, time_s=float(time_s[i]), pose=np.tile(np.eye(3), (2, 1, 1)), shape=np.zeros(6),
            transl=kp[i, Landmark.LEFT_SHOULDER], joints=joints, keypoints3d=kp[i], keypoints2d=kp2d[i],
            keypoint_conf=np.ones(33), box=boxes[i], reproj_error=0.0)])
    sink.close()
    res = load_results(tmp_path / "w.npz")
    got = WorldFrame.from_matrix(np.array(res.meta["camera_to_world"]))
    assert got.pitch_deg == pytest.approx(-20.0, abs=3.0) and got.roll_deg == pytest.approx(5.0, abs=3.0)
    tr = res.tracks[1]
    assert tr.contacts.shape == (30, 2) and tr.contacts[:, 0].sum() >= 10
    # The planted left heel (joint 0 here) stands on the ground in its contact frames.
    np.testing.assert_allclose(tr.joints_world[tr.contacts[:, 0], 0, 1], 0.03, atol=0.01)
    held = tr.joints_world[tr.contacts[:, 0], 0][:, [0, 2]]
    np.testing.assert_allclose(held, np.broadcast_to(np.median(held, 0), held.shape), atol=1e-3)  # it does not slide
    shift = tr.transl_world - got.points(tr.transl * tr.world_scale[:, None])     # the hold: on the ground plane
    np.testing.assert_allclose(shift[:, 1], 0.0, atol=1e-5)


def test_hold_takes_the_jitter_out_of_a_planted_foot():
    """A foot planted on frames 10-49 (of 60, 60 fps) jittering by 2 cm: held, it moves less than a
    fifth as much from frame to frame; the offsets stay on the ground plane, reach 0 away from the
    contact within the ramp, and never jump by more than the jitter at the contact's edges."""
    rng = np.random.default_rng(3)
    t = np.arange(60) / 60.0
    feet = np.zeros((60, 2, 3))
    feet[:, 0, [0, 2]] = [0.3, -4.0] + 0.02 * rng.normal(size=(60, 2))
    feet[:, 1] = [[0.5, 0.1, -4.0]]
    contacts = np.zeros((60, 2), bool)
    contacts[10:50, 0] = True
    off = lock_offsets(feet, contacts, t, ramp_s=0.1, hold_s=0.1)
    np.testing.assert_allclose(off[:, 1], 0.0)
    before = np.linalg.norm(np.diff(feet[10:50, 0], axis=0), axis=1)
    after = np.linalg.norm(np.diff(feet[10:50, 0] + off[10:50], axis=0), axis=1)
    assert np.median(after) < 0.2 * np.median(before)
    assert np.abs(off[:3]).max() == 0.0 and np.abs(off[57:]).max() == 0.0
    assert np.linalg.norm(np.diff(off, axis=0), axis=1).max() < 0.1
    held = lock_offsets(feet, contacts, t, hold_s=None)          # None: at the contact's median
    np.testing.assert_allclose(feet[10:50, 0] + held[10:50], np.broadcast_to(np.median(feet[10:50, 0], 0), (40, 3)),
                               atol=1e-12)


def _forward_kinematics(pose: np.ndarray, rest: np.ndarray, parents: list[int], root: np.ndarray):
    """Globals [T,J,3,3] and joints [T,J,3] of local rotations (G_c = G_p R_c, J_c = J_p + G_p (rest_c - rest_p))."""
    g, j = np.empty_like(pose), np.empty(pose.shape[:2] + (3,))
    for c, p in enumerate(parents):
        g[:, c] = pose[:, c] if p < 0 else g[:, p] @ pose[:, c]
        j[:, c] = root if p < 0 else j[:, p] + g[:, p] @ (rest[c] - rest[p])
    return g, j


def test_bending_a_leg_puts_its_ankle_on_the_target():
    """Two legs (pelvis, hip, knee, ankle, toe each) in random poses, ankles asked 4 cm away: the
    returned joints are the forward kinematics of the returned pose, the ankles are on their targets,
    the feet keep their rotation and the rest of the body does not move; a straight leg asked to
    shorten bends its knee forwards (the foot's way)."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(0)
    parents = [-1, 0, 1, 2, 3, 0, 5, 6, 7, 0]
    rest = np.array([[0, 0.9, 0], [0.1, 0.9, 0], [0.1, 0.5, 0.15], [0.1, 0.08, 0], [0.1, 0.0, 0.15],
                     [-0.1, 0.9, 0], [-0.1, 0.5, 0.15], [-0.1, 0.08, 0], [-0.1, 0.0, 0.15], [0, 1.4, 0]])  # knees bent
    t = 8
    pose = Rotation.from_rotvec(0.1 * rng.normal(size=(t * 10, 3))).as_matrix().reshape(t, 10, 3, 3)
    root = rng.normal(size=(t, 3))
    frame = Rotation.from_rotvec([0.4, -0.2, 0.1]).as_matrix()   # the targets' frame, turned from the camera's
    g, joints = _forward_kinematics(pose, rest, parents, root)
    joints_f, legs = joints @ frame.T, [(1, 2, 3), (5, 6, 7)]
    along = _unit_rows(joints_f[:, [3, 7]] - joints_f[:, [1, 5]])       # hip -> ankle: ask for no more than the leg
    targets = joints_f[:, [3, 7]] + 0.04 * _unit_rows(rng.normal(size=(t, 2, 3)) - 2 * along)
    targets[0, 1] = np.nan                                            # leave this one
    forward = joints_f[:, [4, 8]] - joints_f[:, [3, 7]]
    new_pose, new_joints = bend_legs(pose, joints_f, parents, legs, targets, forward, frame)
    new_g, fk = _forward_kinematics(new_pose, rest, parents, root)
    np.testing.assert_allclose(fk @ frame.T, new_joints, atol=1e-9)
    np.testing.assert_allclose(new_joints[:, 3], targets[:, 0], atol=1e-9)
    np.testing.assert_allclose(new_joints[1:, 7], targets[1:, 1], atol=1e-9)
    np.testing.assert_allclose(new_joints[0], joints_f[0, :, :] + np.where(np.arange(10)[:, None] < 5,
                                                                              new_joints[0] - joints_f[0], 0), atol=1e-12)
    np.testing.assert_allclose(new_g[:, [3, 4, 8]], g[:, [3, 4, 8]], atol=1e-9)          # feet keep their rotation
    np.testing.assert_allclose(new_joints[:, [0, 1, 5, 9]], joints_f[:, [0, 1, 5, 9]], atol=1e-12)
    straight, rest[[2, 6], 2] = np.tile(np.eye(3), (1, 10, 1, 1)), 0.0
    _, j0 = _forward_kinematics(straight, rest, parents, np.zeros((1, 3)))
    _, j1 = bend_legs(straight, j0, parents, legs[:1], j0[:, [3]] + [0.0, 0.05, 0.0], j0[:, [4]] - j0[:, [3]], np.eye(3))
    assert j1[0, 2, 2] > j0[0, 2, 2] + 0.05 and np.linalg.norm(j1[0, 3] - j0[0, 3] - [0, 0.05, 0]) < 1e-9


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_a_moving_camera_is_detected():
    """The background's motion between looks, measured by tracked corners outside the people's boxes:
    a 12 px pan is measured as 12 px, a person moving inside their box is not camera motion, and the
    estimator stops taking evidence from the frame the camera moved."""
    from metahmr_video.world.estimator import background_motion

    rng = np.random.default_rng(5)
    scene = cv2.GaussianBlur((rng.random((400, 720)) * 255).astype(np.uint8), (5, 5), 1.5)
    still = scene[:, 50:690].copy()
    panned = scene[:, 62:702].copy()
    assert background_motion(still, panned, []) == pytest.approx(12.0, abs=0.5)
    walker = still.copy()
    walker[100:300, 200:300] = np.roll(walker[100:300, 200:300], 30, axis=1)
    assert background_motion(still, walker, [np.array([190.0, 90.0, 310.0, 310.0])]) < 0.5
    est = WorldEstimator(K, WorldConfig(lines_every_s=1.0))
    for i in range(5):
        image = (still if i < 3 else panned)
        rgb = np.repeat(cv2.resize(image, (1280, 800))[..., None], 3, axis=2)
        est.observe(Frame(i, float(i), rgb), [])
    assert est.moving_from == 3

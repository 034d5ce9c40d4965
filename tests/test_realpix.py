"""Real-pixel evaluation: calibration reader, undistortion, robust triangulation, person choice
(synthetic cameras; no download)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from metahmr_trainer.realpix.data import read_qca
from metahmr_trainer.realpix.triangulate import project, robust_triangulate, undistort


def _look_at(position: np.ndarray, target=np.zeros(3), up=np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    """OpenCV world->camera rotation of a camera at `position` looking at `target`, z-up world."""
    z = target - position
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    x = x / np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def _cameras(n=4, radius=4.0, f=1500.0):
    K = np.array([[f, 0, 540.0], [0, f, 960.0], [0, 0, 1]])
    Ps = []
    for k in range(n):
        a = 2 * np.pi * k / n + 0.3
        pos = np.array([radius * np.cos(a), radius * np.sin(a), 1.8])
        R = _look_at(pos, np.array([0.0, 0.0, 1.0]))
        Ps.append(K @ np.hstack([R, (-R @ pos)[:, None]]))
    return np.stack(Ps)


def test_robust_triangulation_recovers_points_and_rejects_a_corrupted_view():
    rng = np.random.default_rng(0)
    X = rng.uniform([-0.4, -0.4, 0.1], [0.4, 0.4, 1.9], size=(33, 3))
    P = _cameras()
    x = project(P, X) + rng.normal(0, 0.5, size=(4, 33, 2))
    conf = np.full((4, 33), 0.9)
    bad = np.arange(33) % 3 == 0
    x[2, bad] += np.array([80.0, -60.0])              # one view wrong on a third of the points
    conf[1, 5] = 0.1                                   # an unconfident detection is not used
    tri = robust_triangulate(P, x, conf, max_error_px=8.0)
    err_mm = np.linalg.norm(tri.points - X, axis=-1) * 1000
    assert err_mm.max() < 5.0
    assert not tri.views[bad, 2].any() and tri.views[~bad, 2].all()
    assert not tri.views[5, 1]
    assert tri.mean_error_px.max() < 3.0
    # plain weighted DLT over all views is pulled off by the corrupted view
    naive = robust_triangulate(P, x, conf, max_error_px=1e9)
    assert np.linalg.norm(naive.points[bad] - X[bad], axis=-1).mean() * 1000 > 20.0
    # leaving a view out still recovers the points from the three others
    loo = robust_triangulate(P, x, conf, max_error_px=8.0, allowed=[True, True, True, False])
    loo_mm = np.linalg.norm(loo.points - X, axis=-1) * 1000
    assert loo_mm.max() < 15.0 and loo_mm.mean() < 5.0 and not loo.views[:, 3].any()


def test_undistort_inverts_opencv_distortion():
    K = np.array([[1680.0, 0, 533.0], [0, 1680.0, 948.0], [0, 0, 1]])
    dist = np.array([-0.046, 0.14, 0.0006, 0.0007, 0.0])
    rng = np.random.default_rng(1)
    Xc = np.column_stack([rng.uniform(-0.9, 0.9, 50), rng.uniform(-1.5, 1.5, 50), rng.uniform(3, 5, 50)])
    distorted, _ = cv2.projectPoints(Xc, np.zeros(3), np.zeros(3), K, dist)
    pinhole = (Xc @ K.T)[:, :2] / Xc[:, 2:]
    assert np.abs(distorted[:, 0] - pinhole).max() > 2.0       # the distortion is visible
    assert np.abs(undistort(distorted[:, 0], K, dist) - pinhole).max() < 0.05


QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration><cameras>
{cams}
</cameras></calibration>"""
CAM = """<camera active="1" serial="{name}">
  <fov_video bottom="1919" left="0" right="1087" top="0"/>
  <transform {rot} x="{x}" y="{y}" z="{z}"/>
  <intrinsic centerPointU="{cu}" centerPointV="{cv}" focalLengthU="{f}" focalLengthV="{f}"
   radialDistortion1="-0.05" radialDistortion2="0.1" radialDistortion3="0" tangentalDistortion1="0.001"
   tangentalDistortion2="0.002"/>
</camera>"""


def test_read_qca_places_cameras_looking_at_their_target(tmp_path):
    """A Qualisys file written from known positions (mm) and look-at orientations (Qualisys camera
    frame: y up, looking along -z): the target projects to the principal point, world up is image
    up, the camera centre maps to the origin."""
    positions = {"cam02": np.array([2500.0, 700.0, 1700.0]), "cam01": np.array([1460.0, -1900.0, 1900.0])}
    cams = []
    for name, pos in positions.items():
        R_cv = _look_at(pos / 1000.0)
        M = np.diag([1.0, -1.0, -1.0]) @ R_cv      # world -> Qualisys camera frame, row-major in the file
        rot = " ".join(f'r{i + 1}{j + 1}="{M[i, j]!r}"' for i in range(3) for j in range(3))
        cams.append(CAM.format(name=name, rot=rot, x=pos[0], y=pos[1], z=pos[2], cu=540.0 * 64, cv=950.0 * 64,
                               f=1600.0 * 64))
    path = tmp_path / "Calib.qca.txt"
    path.write_text(QCA.format(cams="\n".join(cams)))
    read = read_qca(path)
    assert [c.name for c in read] == ["cam01", "cam02"]
    for c in read:
        pos = positions[c.name] / 1000.0
        assert np.allclose(c.to_camera(pos), 0.0, atol=1e-9)
        assert np.allclose(c.K, [[1600, 0, 540], [0, 1600, 950], [0, 0, 1]])
        assert c.size == (1088, 1920) and np.allclose(c.dist, [-0.05, 0.1, 0.001, 0.002, 0.0])
        origin = project(c.P[None], np.zeros((1, 3)))[0, 0]
        assert np.allclose(origin, [540, 950], atol=1e-6) and c.to_camera(np.zeros(3))[2] > 0
        above = project(c.P[None], np.array([[0.0, 0.0, 0.5]]))[0, 0]
        assert above[1] < origin[1] - 50                 # higher in the world = higher in the image


def test_read_qca_rejects_a_broken_file(tmp_path):
    from metahmr_video.core.errors import InputError

    path = tmp_path / "bad.qca.txt"
    path.write_text("<calibration><cameras><camera serial='c'/></cameras>")
    with pytest.raises(InputError):
        read_qca(path)


def _detections(people_2d: list[list[np.ndarray]], size=(1080, 1920)):
    """ViewDetections per view from per-view lists of [F,33,2] keypoint arrays (one per person)."""
    from metahmr_trainer.realpix.detections import ViewDetections

    out = []
    for people in people_2d:
        F, M = people[0].shape[0], len(people)
        kp = np.stack(people, 1).astype(np.float32)
        boxes = np.concatenate([kp.min(2), kp.max(2)], -1)
        out.append(ViewDetections(kp, np.full((F, M, 33), 0.9, np.float32), np.zeros((F, M, 33, 3), np.float32),
                                  boxes, np.ones((F, M), np.float32), np.full(F, M), size))
    return out


def test_reference_picks_the_person_all_views_agree_on_and_unmirrors_a_view():
    """Four views see the target; two also see a larger bystander; one view has the target's
    left/right labels swapped in some frames. The reference follows the target and is exact."""
    from metahmr_video.core.layout import MEDIAPIPE_33, mirror_index
    from metahmr_trainer.realpix.data import Camera
    from metahmr_trainer.realpix.reference import build_reference

    rng = np.random.default_rng(3)
    F = 6
    K = np.array([[1500.0, 0, 540], [0, 1500.0, 960], [0, 0, 1]])
    cams = []
    for k in range(4):
        a = 2 * np.pi * k / 4 + 0.3
        pos = np.array([4 * np.cos(a), 4 * np.sin(a), 1.8])
        R = _look_at(pos, np.array([0.0, 0.0, 1.0]))
        cams.append(Camera(f"cam{k}", K, np.zeros(5), R, -R @ pos, (1080, 1920)))
    P = np.stack([c.P for c in cams])
    # a body-like cloud: left landmarks at +x, right ones mirrored to -x
    names = MEDIAPIPE_33
    base = rng.uniform([0.05, -0.15, 0.1], [0.3, 0.15, 1.8], size=(33, 3))
    base[[i for i, n in enumerate(names) if "left" not in n and "right" not in n], 0] = 0.0
    for i, j in enumerate(mirror_index(names)):
        if "right" in names[i]:
            base[i] = base[j] * [-1, 1, 1]
    target = base[None] + np.linspace(0, 0.3, F)[:, None, None] * [1, 0, 0]
    bystander = base[None] * 1.15 + np.array([1.5, 2.5, 0.0])
    proj = lambda X, v: project(P[v:v + 1], X)[0]  # noqa: E731
    views = []
    for v in range(4):
        people = [proj(target, v) + rng.normal(0, 1.0, (F, 33, 2))]
        if v < 2:
            by = np.broadcast_to(proj(bystander, v), (F, 33, 2))
            people = [by + 0.0, people[0]]            # listed first
        views.append(people)
    mir = np.array(mirror_index(names))
    swapped = views[3][0].copy()
    swapped[2:4] = swapped[2:4][:, mir]                 # frames 2, 3 of view 3 mirrored
    views[3][0] = swapped
    ref = build_reference(_detections(views), cams)
    assert (ref.person[:, :2] == 1).all() and (ref.person[:, 2:] == 0).all()
    assert ref.mirrored[2:4, 3, :2].all() and not ref.mirrored[[0, 1, 4, 5]].any()
    err = np.linalg.norm(ref.landmarks - target, axis=-1) * 1000
    assert np.nanmax(err) < 10.0 and np.isfinite(ref.landmarks).all()
    assert np.isfinite(ref.loo).all()


def test_realpix_errors_match_the_project_evaluation():
    """The real-pixel metric (roma registration, numpy) equals metahmr_trainer.evaluate's on random joints."""
    import torch

    from metahmr_trainer.evaluate import joint_errors as project_errors
    from metahmr_trainer.realpix.evaluate import joint_errors

    rng = np.random.default_rng(4)
    gt = rng.normal(0, 0.3, (20, 15, 3))
    pred = 1.1 * gt @ np.linalg.qr(rng.normal(size=(3, 3)))[0].T + rng.normal(0, 0.05, (20, 15, 3)) + 1.0
    pred[3] = np.nan
    mp, pa = joint_errors(pred, gt)
    ok = np.arange(20) != 3
    ref_mp, ref_pa = project_errors(torch.as_tensor(pred[ok]), torch.as_tensor(gt[ok]))
    assert np.allclose(mp.mean(-1)[ok], ref_mp.numpy(), atol=1e-6)
    assert np.allclose(pa.mean(-1)[ok], ref_pa.numpy(), atol=1e-6)
    assert np.isnan(pa[3]).all() and (pa.mean(-1)[ok] < mp.mean(-1)[ok]).all()


def test_fetch_demo_extracts_only_the_demo_from_a_cached_wheel(tmp_path):
    """With the wheel already in the cache nothing is downloaded; videos and calibration come out."""
    import zipfile

    from metahmr_trainer.realpix.data import DEMO, fetch_demo

    with zipfile.ZipFile(tmp_path / "pose2sim-0.10.49-py3-none-any.whl", "w") as zf:
        for i in range(1, 5):
            zf.writestr(f"{DEMO}/videos/cam0{i}.mp4", b"video")
        zf.writestr(f"{DEMO}/calibration/Calib.qca.txt", "<calibration/>")
        zf.writestr(f"{DEMO}/calibration/intrinsics/big.jpg", b"not needed")
        zf.writestr("Pose2Sim/Demo_MultiPerson/videos/cam01.mp4", b"not needed")
    demo = fetch_demo(tmp_path)
    assert (demo / "videos" / "cam04.mp4").read_bytes() == b"video"
    assert (demo / "calibration" / "Calib.qca.txt").is_file()
    assert not (demo / "calibration" / "intrinsics").exists() and not (tmp_path / "Pose2Sim" / "Demo_MultiPerson").exists()


def test_optimisation_fit_recovers_a_known_body(anny_body):
    """Anny's own keypoints (hip-centred 3D + 2D through a known camera) of a posed body: the fit
    finds keypoints and pelvis position close to the truth."""
    import torch

    from metahmr_video.core.camera import project as project_px
    from metahmr_video.core.rotations import axis_angle_to_rotmat
    from metahmr_video.adapt.landmark_fit import fit_landmarks

    g = torch.Generator().manual_seed(0)
    n, nb = 2, anny_body.num_bones
    rotvec = 0.25 * torch.randn(n, nb, 3, generator=g)
    rotvec[:, 0] = torch.tensor([[1.5, 0.2, 0.1], [1.3, -0.4, 0.0]])     # upright-ish, facing the camera
    transl = torch.tensor([[0.2, 0.1, 3.5], [-0.3, 0.0, 4.5]])
    with torch.no_grad():
        truth = anny_body(axis_angle_to_rotmat(rotvec), None, transl, return_vertices=False).keypoints
    focal, center = torch.full((n,), 1500.0), torch.tensor([[540.0, 960.0]]).expand(n, 2)
    kp2d = project_px(truth, focal, center)
    size = (kp2d.max(1).values - kp2d.min(1).values).max(-1).values
    ones = torch.ones(n, 33)
    out, (_, _, tr) = fit_landmarks(anny_body, truth, ones, kp2d, ones, focal, center, size, iters=100)
    err = (out.keypoints - truth).norm(dim=-1).mean(-1)
    assert (err < 0.015).all(), err
    assert ((tr - transl).norm(dim=-1) < 0.08).all(), tr

"""Rendered training data: the z-buffer rasteriser, render geometry vs the camera model, framing
cuts, the real detector on a render, shards, and evidence built as the product builds it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metahmr_video.core.camera import project
from metahmr_video.core.records import Frame
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_trainer.data import CAM_FROM_ANNY
from metahmr_trainer.raster import rasterize

CUBE_V = torch.tensor([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
CUBE_F = torch.tensor([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                       [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])  # any winding


def _coverage(frags, w, h, values):
    img = torch.full((h * w,), -1.0)
    img[frags.pixel] = values.float()
    return img.reshape(h, w)


def test_zbuffer_keeps_the_nearer_of_two_overlapping_squares():
    # Square A (x 2..6) at depth 2 overlaps square B (x 4..10) at depth 4 on columns 4 and 5.
    def square(x0, x1, z):
        return torch.tensor([[x0, 2.0], [x0, 6.0], [x1, 6.0], [x1, 2.0]]), torch.full((4,), z)
    pa, za = square(2.0, 6.0, 2.0)
    pb, zb = square(4.0, 10.0, 4.0)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    for order in (faces, faces.flip(0)):  # the result must not depend on drawing order
        fr = rasterize(torch.cat([pa, pb]), torch.cat([za, zb]), order, (12, 8))
        depth = _coverage(fr, 12, 8, fr.depth)
        expect = torch.full((8, 12), -1.0)
        expect[2:6, 2:6] = 2.0
        expect[2:6, 6:10] = 4.0
        assert torch.equal(depth, expect)
        assert len(fr.pixel) == 32  # each covered pixel once
    # Back faces are culled: the same squares wound the other way are not drawn.
    assert len(rasterize(torch.cat([pa, pb]), torch.cat([za, zb]), faces[:, [0, 2, 1]], (12, 8)).pixel) == 0


def test_depth_is_perspective_correct_on_a_slanted_plane():
    # The plane z = 3 + 0.5 x (camera frame), seen by a pinhole camera: the depth at each pixel is
    # where that pixel's ray meets the plane (independent closed form).
    f, w, h = 100.0, 64, 48
    corners = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    pts3 = torch.cat([corners, (3.0 + 0.5 * corners[:, :1])], -1)
    px = project(pts3[None], torch.tensor([f]), torch.tensor([w / 2, h / 2]))[0]
    fr = rasterize(px, pts3[:, 2], torch.tensor([[0, 1, 2], [0, 2, 3]]), (w, h), cull_back=False)
    x = (fr.pixel % w).float() + 0.5
    ray_x = (x - w / 2) / f
    expect = 3.0 / (1.0 - 0.5 * ray_x)  # z = 3 + 0.5 * z * ray_x
    assert len(fr.pixel) > 500
    torch.testing.assert_close(fr.depth, expect, atol=1e-4, rtol=0)
    # Interpolated camera-frame x (perspective-correct barycentrics) equals z * ray_x.
    x3 = fr.interpolate(pts3[:, :1], torch.tensor([[0, 1, 2], [0, 2, 3]]))[:, 0]
    torch.testing.assert_close(x3, expect * ray_x, atol=1e-4, rtol=0)


@pytest.mark.parametrize("max_extent", [2000, 40])
def test_rendered_cube_covers_its_projection(max_extent):
    from metahmr_trainer.scene import Light, draw_person

    # A cube 4 m in front of the camera, turned about y: its silhouette is the hull of its projected
    # corners (camera.project), whichever resolution it is rasterised at.
    rot = axis_angle_to_rotmat(torch.tensor([0.2, 0.5, 0.0]))
    verts = 0.5 * CUBE_V @ rot.T + torch.tensor([0.3, -0.2, 4.0])
    tri = verts[CUBE_F]
    normal = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = ((normal * (tri.mean(1) - verts.mean(0))).sum(-1) > 0)[:, None]
    faces = torch.where(out, CUBE_F, CUBE_F[:, [0, 2, 1]])  # every face wound outward
    w, h, f = 160, 120, 150.0
    image = np.zeros((h, w, 3), np.uint8)
    light = Light(direction=np.array([0.0, 0.0, -1.0]), ambient=0.5, diffuse=0.5, tint=np.ones(3))
    layer = draw_person(image, verts, faces, torch.ones(8, 3), f, light, np.random.default_rng(0), max_extent)
    cover = layer.cover
    import cv2
    corners = project(verts[None], torch.tensor([f]), torch.tensor([w / 2, h / 2]))[0].numpy()
    hull = cv2.convexHull(corners.astype(np.float32))
    ys, xs = np.mgrid[0:h, 0:w]
    dist = np.array([cv2.pointPolygonTest(hull, (float(x) + 0.5, float(y) + 0.5), True)
                     for x, y in zip(xs.ravel(), ys.ravel())]).reshape(h, w)
    tol = 1.0 if max_extent >= w else 2.5  # pixels: a coarse raster is resized up
    assert (cover[dist > tol] > 0.5).all() and (cover[dist < -tol] < 0.5).all()
    assert (image[cover > 0.99] > 0).all() and (image[cover == 0] == 0).all()
    seen = np.isfinite(layer.depth)
    assert (layer.depth[seen] > verts[:, 2].min().item() - 1e-4).all() and (layer.depth[seen] < verts[:, 2].max().item()).all()
    if max_extent >= w:
        assert np.array_equal(seen, cover > 0)


@pytest.fixture(scope="module")
def renderer():
    from metahmr_trainer.render_data import SampleRenderer
    return SampleRenderer()


def _standing(renderer, n=1):
    body = renderer.fit_body
    rv = torch.zeros(n, body.num_bones, 3)
    for side, s in (("Left", 1.0), ("Right", -1.0)):  # arms down from the rest pose
        rv[:, body.bone_names.index(f"{side}Arm"), 1] = s * 0.6
    pose = axis_angle_to_rotmat(rv)
    pose[:, 0] = CAM_FROM_ANNY
    return pose, torch.full((n, 6), 0.5)


@pytest.mark.parametrize("cut", ["knees", "waist", "portrait"])
def test_frame_cut_puts_the_cut_at_the_bottom_edge(renderer, cut):
    from metahmr_trainer.render_data import frame_cut

    pose, shape = _standing(renderer)
    out = renderer.full_body(pose, shape)
    kp = renderer.fit_body(pose, shape, return_vertices=False).keypoints[0]
    w, h, f = 720.0, 1280.0, 1100.0
    g = torch.Generator().manual_seed(1)
    t = frame_cut(kp, out.vertices[0], f, (w, h), cut, g)
    assert t is not None and t[2] > 0.3
    px = project((kp + t)[None], torch.tensor([f]), torch.tensor([w / 2, h / 2]))[0]
    top = project((out.vertices[0] + t)[None], torch.tensor([f]), torch.tensor([w / 2, h / 2]))[0][:, 1].min()
    assert -0.02 * h < top < 0.15 * h
    level = {"knees": px[25:27, 1].mean(), "waist": px[[11, 12, 23, 24], 1].mean(), "portrait": px[11:13, 1].mean()}[cut]
    hips = px[23:25, 1].mean()
    if cut == "knees":
        assert 0.8 * h < level < 1.1 * h  # knees at the bottom edge
    elif cut == "waist":
        assert level < h < hips + 0.05 * h  # between shoulders-hips middle and the hips
    else:
        assert level < h and hips > h  # shoulders in, hips out: an upper-body portrait


def test_visibility_from_the_depth_buffer(renderer):
    from metahmr_trainer.render_data import landmark_visibility
    from metahmr_trainer.scene import Light, draw_person

    w, h, f = 320, 240, 300.0
    light = Light(direction=np.array([0.0, 0.0, -1.0]), ambient=0.5, diffuse=0.5, tint=np.ones(3))
    names = {"nose": 0, "left_heel": 29, "left_hip": 23, "left_shoulder": 11}
    seen = {}
    for view, yaw in (("front", 0.0), ("back", math.pi)):
        pose, shape = _standing(renderer)
        pose[:, 0] = CAM_FROM_ANNY @ axis_angle_to_rotmat(torch.tensor([0.0, 0.0, yaw]))
        transl = torch.tensor([[0.0, 0.0, 4.0]])
        verts = renderer.full_body(pose, shape, transl).vertices[0]
        kp3d = renderer.fit_body(pose, shape, transl, return_vertices=False).keypoints[0]
        layer = draw_person(np.zeros((h, w, 3), np.uint8), verts, renderer.paint.faces, torch.ones(len(verts), 3), f,
                            light, np.random.default_rng(0))
        kp2d = project(kp3d[None], torch.tensor([f]), torch.tensor([w / 2, h / 2]))[0].numpy()
        occ = np.zeros((h, w), bool)
        occ[:, : w // 2] = True  # an occluder over the image's left half
        inside, occluded, visible = landmark_visibility(kp2d, kp3d[:, 2].numpy(), layer.depth, occ,
                                                        renderer.depth_tolerance)
        assert inside.all() and np.array_equal(occluded, kp2d[:, 0] < w // 2)
        seen[view] = {n: bool(landmark_visibility(kp2d, kp3d[:, 2].numpy(), layer.depth, None,
                                                  renderer.depth_tolerance)[2][i]) for n, i in names.items()}
        assert not (visible & occluded).any()
    assert seen["front"] == {"nose": True, "left_heel": False, "left_hip": True, "left_shoulder": True}
    assert seen["back"] == {"nose": False, "left_heel": True, "left_hip": True, "left_shoulder": True}


def test_detector_finds_a_rendered_person_with_landmarks_on_the_body(renderer):
    from metahmr_trainer.render_data import true_box
    from metahmr_trainer.scene import Light, draw_person, sample_look

    pose, shape = _standing(renderer)
    transl = torch.tensor([[0.0, 0.1, 3.5]])
    verts = renderer.full_body(pose, shape, transl).vertices[0]
    kp3d = renderer.fit_body(pose, shape, transl, return_vertices=False).keypoints
    w, h, f = 640, 480, 600.0
    clean = project(kp3d, torch.tensor([f]), torch.tensor([w / 2, h / 2]))[0].numpy()
    rng = np.random.default_rng(3)
    look = sample_look(rng, renderer.full_body.num_bones)
    look.kind = "clothed"
    image = np.full((h, w, 3), 150, np.uint8)
    light = Light(direction=np.array([0.3, -0.5, -0.8]) / np.linalg.norm([0.3, -0.5, -0.8]), ambient=0.35,
                  diffuse=0.7, tint=np.ones(3))
    draw_person(image, verts, renderer.paint.faces, renderer.paint.colors(look), f, light, rng)
    dets = renderer.detector.detect(Frame(0, 0.0, image), full=True)
    assert len(dets) == 1
    d = dets[0]
    from metahmr_video.core.boxes import box_iou
    assert box_iou(d.box[None], true_box(clean, (w, h))[None])[0, 0] > 0.6
    height = np.ptp(clean[:, 1])
    err = np.linalg.norm(d.keypoints2d - clean, axis=1) / height
    assert np.median(err) < 0.05
    # a person facing the camera: MediaPipe's left shoulder is on the image's right
    assert d.keypoints2d[11, 0] > d.keypoints2d[12, 0]
    np.testing.assert_allclose(d.keypoint_conf, d.visibility * d.presence, rtol=1e-6)


def test_shards_are_consistent_and_resumable(renderer, anny_body, tmp_path, monkeypatch):
    import metahmr_trainer.render_data as rd

    monkeypatch.setattr(rd, "SampleRenderer", lambda config=None: renderer)
    images = []
    detect = renderer.detector.detect

    def record(frame, hints=(), full=True):
        if not hints:
            images.append(frame.image.copy())
        return detect(frame, hints, full)

    monkeypatch.setattr(renderer.detector, "detect", record)
    paths = rd.generate(4, tmp_path, seed=5, shard_size=2, progress=False)
    assert [p.name for p in paths] == ["shard_005_00000.npz", "shard_005_00001.npz"]
    z = dict(np.load(paths[0]))
    out = anny_body(torch.from_numpy(z["pose"]), torch.from_numpy(z["shape"]), torch.from_numpy(z["transl"]),
                    return_vertices=False)
    torch.testing.assert_close(torch.from_numpy(z["joints"]), out.joints, atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.from_numpy(z["keypoints3d"]), out.keypoints, atol=1e-4, rtol=0)
    px = project(out.keypoints, torch.from_numpy(z["focal"]), torch.from_numpy(z["image_size"]) / 2)
    torch.testing.assert_close(torch.from_numpy(z["kp2d"]), px, atol=1e-2, rtol=0)
    assert z["pose"].shape == (2, 31, 3, 3) and z["det_world"].shape == (2, 33, 3)
    found = z["found"]
    assert np.isfinite(z["det_kp2d"][found]).all() and np.isnan(z["det_kp2d"][~found]).all()
    assert (z["iou"][found] >= 0.3).all()
    for i in range(2):  # the stored seed draws the image the detector saw (up to float rounding at edges:
        diff = np.abs(renderer.rerender(z, i).astype(int) - images[i])  # the body model ran on a batch)
        assert (diff > 0).mean() < 2e-3 and diff.mean() < 0.02
    # a rerun skips finished shards (nothing re-rendered)
    stamp = [p.stat().st_mtime_ns for p in paths]
    monkeypatch.setattr(rd, "SampleRenderer", lambda config=None: pytest.fail("re-rendered a finished shard"))
    assert rd.generate(4, tmp_path, seed=5, shard_size=2, progress=False) == paths
    assert [p.stat().st_mtime_ns for p in paths] == stamp


def _fake_shard(path, rng, n=3, width=640, height=480):
    """A shard holding detections made by the product's own LandmarkResult -> Detection conversion."""
    from metahmr_video.detect.blazepose import LandmarkResult, Roi
    from metahmr_video.detect.multi import _to_detection

    rows = []
    for i in range(n):
        kp = np.concatenate([rng.uniform([50, 40], [600, 450], (39, 2)), rng.normal(0, 10, (39, 1))], 1)
        res = LandmarkResult(keypoints=kp.astype(np.float32), visibility=rng.uniform(0, 1, 39).astype(np.float32),
                             presence=rng.uniform(0, 1, 39).astype(np.float32),
                             world=rng.normal(0, 0.3, (33, 3)).astype(np.float32), score=0.9,
                             roi=Roi(300, 200, 300), next_roi=Roi(300, 200, 300))
        rows.append(_to_detection(res, "blazepose", width, height))
    z = {"found": np.array([True, False, True][:n]), "det_kp2d": np.stack([d.keypoints2d for d in rows]),
         "det_conf": np.stack([d.keypoint_conf for d in rows]), "det_vis": np.stack([d.visibility for d in rows]),
         "det_pres": np.stack([d.presence for d in rows]), "det_world": np.stack([d.world_landmarks for d in rows]),
         "det_box": np.stack([d.box for d in rows]), "det_score": np.full(n, 0.9, np.float32),
         "image_size": np.tile(np.float32([width, height]), (n, 1)), "focal": np.float32([500, 600, 700][:n]),
         "pose": np.tile(np.eye(3, dtype=np.float32), (n, 31, 1, 1)), "shape": np.full((n, 6), 0.5, np.float32),
         "transl": np.tile(np.float32([0, 0, 3]), (n, 1)), "joints": np.zeros((n, 31, 3), np.float32),
         "kp2d": np.zeros((n, 33, 2), np.float32), "looks": np.array(["clothed"])}
    np.savez(path, **z)
    return rows


def test_rendered_evidence_is_what_the_product_builds(anny_body, tmp_path):
    from metahmr_video.adapt.adapter import AdaptConfig, Adapter
    from metahmr_video.adapt.fitter import Fitter
    from metahmr_video.core.records import TrackedPerson
    from metahmr_trainer.rendered import RenderedData

    dets = _fake_shard(tmp_path / "s.npz", np.random.default_rng(0))
    data = RenderedData(tmp_path)
    assert len(data) == 2  # the missed sample is left out

    class Captured(Exception):
        pass

    fitter = Fitter.load(body=anny_body)
    seen = []

    def capture(ev, **kwargs):
        seen.append(ev)
        raise Captured

    fitter.fit_evidence = capture
    for k, (det, focal) in enumerate([(dets[0], 500.0), (dets[2], 700.0)]):
        adapter = Adapter(fitter, AdaptConfig(temporal_prior=0.0), focal=focal)
        with pytest.raises(Captured):
            adapter(Frame(0, 0.0, np.zeros((480, 640, 3), np.uint8)), [TrackedPerson(1, det)])
        ours = data.evidence.index(slice(k, k + 1))
        for name in ("kp2d", "conf", "world", "world_vis", "has_world", "box_center", "box_size", "focal", "img_center"):
            assert torch.equal(getattr(ours, name), getattr(seen[-1], name)), name
    ev, tg = data.sample(8, torch.Generator().manual_seed(0))
    assert ev.kp2d.shape == (8, 33, 2) and tg.pose.shape == (8, 31, 3, 3)


def test_mixed_batches_and_data_specs(anny_body, tmp_path):
    from metahmr_video.core.errors import InputError
    from metahmr_trainer.data import SyntheticData
    from metahmr_trainer.rendered import MixedData, RenderedData, data_source

    _fake_shard(tmp_path / "s.npz", np.random.default_rng(1))
    rendered = RenderedData(tmp_path)
    mixed = data_source(f"rendered:{tmp_path}", anny_body, rendered_fraction=0.25)
    assert isinstance(mixed, MixedData) and mixed.counts(10) == [3, 7] and mixed.counts(4) == [1, 3]
    ev, tg = mixed.sample(10, torch.Generator().manual_seed(2))
    assert len(ev) == 10 and tg.joints.shape == (10, 31, 3)
    # the first 3 rows come from the shards: their focal lengths are the stored ones
    assert set(ev.focal[:3].tolist()) <= {500.0, 700.0}
    assert isinstance(data_source("synthetic", anny_body), SyntheticData)
    assert isinstance(data_source(f"rendered:{tmp_path}", anny_body, 1.0), RenderedData)
    with pytest.raises(InputError):
        data_source(f"rendered:{tmp_path / 'missing'}", anny_body)
    with pytest.raises(InputError):
        data_source("bvh", anny_body)
    assert math.isclose(sum(MixedData([rendered, rendered], [1, 3]).fractions), 1.0)


def test_mirrored_samples_are_consistent(anny_body, tmp_path):
    from metahmr_video.core.boxes import box_from_keypoints
    from metahmr_trainer.prior import MotionPrior, sample_global_orientation
    from metahmr_trainer.rendered import RenderedData, mirror_bones, mirror_samples

    g = torch.Generator().manual_seed(4)
    n, w, h, f = 6, 640.0, 480.0, 550.0
    pose = axis_angle_to_rotmat(MotionPrior(anny_body).sample(n, g))
    pose[:, 0] = CAM_FROM_ANNY @ axis_angle_to_rotmat(sample_global_orientation(n, g))
    shape = torch.rand(n, 6, generator=g)
    transl = torch.cat([torch.randn(n, 2, generator=g) * 0.3, torch.full((n, 1), 4.0)], -1)
    out = anny_body(pose, shape, transl, return_vertices=False)
    kp2d = project(out.keypoints, torch.full((n,), f), torch.tensor([w / 2, h / 2])).numpy()
    det = kp2d + np.random.default_rng(0).normal(0, 3, kp2d.shape)
    conf = np.random.default_rng(1).uniform(0, 1, (n, 33)).astype(np.float32)
    world = (out.keypoints - out.keypoints[:, 23:25].mean(1, keepdim=True)).numpy()
    a = {"found": np.ones(n, bool), "det_kp2d": det.astype(np.float32), "det_conf": conf, "det_vis": conf,
         "det_pres": np.ones((n, 33), np.float32), "det_world": world, "det_score": np.ones(n, np.float32),
         "det_box": np.stack([box_from_keypoints(d, c, min_conf=0.5) for d, c in zip(det, conf)]),
         "image_size": np.tile(np.float32([w, h]), (n, 1)), "focal": np.full(n, f, np.float32),
         "pose": pose.numpy(), "shape": shape.numpy(), "transl": transl.numpy(), "joints": out.joints.numpy(),
         "keypoints3d": out.keypoints.numpy(), "kp2d": kp2d, "visible": np.zeros((n, 33), bool)}
    a["visible"][:, 11] = True  # the left shoulder
    perm = mirror_bones(anny_body.bone_names)
    m = mirror_samples(a, perm)
    # the mirrored truth is one body-model pose: posing it gives the mirrored joints and landmarks
    mo = anny_body(torch.from_numpy(m["pose"]), shape, torch.from_numpy(m["transl"]), return_vertices=False)
    std = anny_body.standard_joint_indices
    assert (mo.joints[:, std] - torch.from_numpy(m["joints"])[:, std]).norm(dim=-1).max() < 3e-3
    assert (mo.keypoints - torch.from_numpy(m["keypoints3d"])).norm(dim=-1).max() < 3e-3
    # ... seen by the same camera: its clean 2D is the projection, and left is right in the image
    px = project(torch.from_numpy(m["keypoints3d"]), torch.full((n,), f), torch.tensor([w / 2, h / 2]))
    torch.testing.assert_close(torch.from_numpy(m["kp2d"]), px, atol=1e-2, rtol=0)
    assert m["visible"][:, 12].all() and not m["visible"][:, 11].any()
    np.testing.assert_allclose(m["det_box"][:, [0, 2]], w - a["det_box"][:, [2, 0]])
    twice = mirror_samples(m, perm)
    for k in ("det_kp2d", "det_world", "det_box", "pose", "joints", "keypoints3d", "kp2d", "transl"):
        np.testing.assert_allclose(twice[k], a[k], atol=1e-4)
    np.savez(tmp_path / "s.npz", **a)
    data = RenderedData(tmp_path, mirror_with=anny_body)
    assert len(data) == 2 * n
    torch.testing.assert_close(data.evidence.box_center[n:, 0], w - data.evidence.box_center[:n, 0])


def test_render_stats_on_known_errors():
    from metahmr_trainer.realpix.joints import standard_from_landmarks
    from metahmr_trainer.render_stats import report

    rng = np.random.default_rng(0)
    n = 4
    kp3d = rng.normal(0, 0.4, (n, 33, 3)).astype(np.float32) + np.float32([0, 0, 4])
    kp2d = (500 * kp3d[..., :2] / kp3d[..., 2:] + 320).astype(np.float32)
    det2d = kp2d.copy()
    mirror = [0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23, 26, 25, 28, 27,
              30, 29, 32, 31]  # MediaPipe-33 left <-> right
    det2d[1] = kp2d[1][mirror]  # sample 1: left and right swapped
    height = (kp2d.max(1) - kp2d.min(1)).max(-1)
    det2d[2] += np.float32([0.15, 0.0]) * height[2]  # sample 2: 15% of its height off
    std = standard_from_landmarks(kp3d)  # truth joints defined like MediaPipe's: "like" and "truth" agree
    joints = np.zeros((n, 31, 3), np.float32)
    idx = list(range(15))
    joints[:, idx] = std
    a = {"found": np.array([True, True, True, False]), "source": np.array([1, 1, 2, 0]),
         "sources": np.array(["none", "full", "track"]), "kp2d": kp2d, "det_kp2d": det2d,
         "inside": np.ones((n, 33), bool), "det_world": (kp3d - kp3d[:, 23:25].mean(1, keepdims=True)) * 1.2,
         "keypoints3d": kp3d, "joints": joints, "look": np.zeros(n, int), "looks": np.array(["clothed"]),
         "truncation": np.zeros(n, int), "truncations": np.array(["none"]), "occluder": np.zeros(n, int),
         "occluders": np.array(["none"])}
    s = report(a, idx)["all"]
    assert s["found"] == 75.0 and s["found_full"] == 50.0
    assert s["pa_median"] == 0.0 and s["pa_like_mean"] == 0.0  # world landmarks right up to a similarity
    assert s["swap"] == pytest.approx(100 / 3, abs=0.1)
    assert s["off10"] == pytest.approx(200 / 3, abs=0.1)  # the swapped and the shifted one

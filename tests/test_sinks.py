"""Sinks: NPZ round-trip through load_results (Anny and SMPL keys), atomic flushes, the rasteriser's
projection and occlusion, and the overlay MP4 read back with PyAV."""
import json

import av
import numpy as np
import pytest
import torch

from metahmr_video.body import BodyModel
from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.errors import InputError
from metahmr_video.core.results import load_results
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_video.sinks import NpzSink, OverlayVideoSink, render_meshes


def _person(tid, i, rng, joints=31):
    return PersonBody(track_id=tid, frame_index=i, time_s=i / 30, pose=axis_angle_to_rotmat(
        torch.tensor(rng.normal(scale=0.3, size=(joints, 3)))).float().numpy(),
        shape=rng.uniform(size=6).astype(np.float32), transl=rng.normal(size=3).astype(np.float32),
        joints=rng.normal(size=(joints, 3)).astype(np.float32), keypoints3d=rng.normal(size=(33, 3)).astype(np.float32),
        keypoints2d=rng.uniform(0, 640, size=(33, 2)).astype(np.float32), keypoint_conf=rng.uniform(size=33).astype(np.float32),
        box=np.array([1, 2, 3, 4], np.float32), reproj_error=float(rng.uniform()), fallback=bool(i % 7 == 0))


def _frame(i):
    return Frame(index=i, time_s=i / 30, image=np.zeros((4, 4, 3), np.uint8))


@pytest.mark.parametrize("body", ["anny", "smpl"])
def test_npz_round_trip(tmp_path, body):
    rng = np.random.default_rng(0)
    joints = 31 if body == "anny" else 24
    sink = NpzSink(tmp_path / "clip.npz", dict(body_model=body, fps=30.0))
    written = {1: [], 2: []}
    for i in range(12):
        people = [_person(1, i, rng, joints)] + ([_person(2, i, rng, joints)] if i % 3 else [])
        for p in people:
            written[p.track_id].append(p)
        sink.write(_frame(i), people)
    sink.close()
    res = load_results(tmp_path / "clip.npz")
    assert res.meta["body_model"] == body and res.meta["num_frames"] == 12 and res.meta["fps"] == 30.0
    assert sorted(res.tracks) == [1, 2]
    for tid, people in written.items():
        tr = res.tracks[tid]
        np.testing.assert_array_equal(tr.frame_ids, [p.frame_index for p in people])
        np.testing.assert_allclose(tr.pose, np.stack([p.pose for p in people]), atol=1e-5)
        np.testing.assert_allclose(tr.joints, np.stack([p.joints for p in people]))
        np.testing.assert_allclose(tr.keypoints2d, np.stack([p.keypoints2d for p in people]))
        np.testing.assert_array_equal(tr.fallback, [p.fallback for p in people])
    if body == "smpl":
        tr = res.tracks[1]
        assert tr.params["global_orient"].shape == (12, 3) and tr.params["body_pose"].shape == (12, 69)
        assert tr.params["betas"].shape == (12, 6)
        back = axis_angle_to_rotmat(torch.from_numpy(tr.params["global_orient"])).numpy()
        np.testing.assert_allclose(back, np.stack([p.pose[0] for p in written[1]]), atol=1e-5)
    else:
        assert res.tracks[1].params["bone_rotations"].shape == (12, 31, 3, 3)


class _SixDBody(BodyModel):
    """A made-up family storing rotations as their first two columns (6D) and shapes in centimetres."""

    stored_names = ("sixd",)
    param_keys = ("rot6d", "size_cm")

    @classmethod
    def encode(cls, pose, shape):
        return dict(rot6d=pose[..., :2].reshape(*pose.shape[:2], 6), size_cm=100.0 * shape)

    @classmethod
    def decode(cls, params):
        cols = params["rot6d"].reshape(*params["rot6d"].shape[:2], 3, 2)
        return np.concatenate([cols, np.cross(cols[..., 0], cols[..., 1])[..., None]], -1), params["size_cm"] / 100.0


def test_new_family_registered_once_round_trips(tmp_path, monkeypatch):
    import metahmr_video.body as body

    monkeypatch.setattr(body, "FAMILIES", (*body.FAMILIES, _SixDBody))
    rng = np.random.default_rng(3)
    people = [_person(1, i, rng, joints=5) for i in range(4)]
    sink = NpzSink(tmp_path / "clip.npz", dict(body_model="sixd"))
    for i, p in enumerate(people):
        sink.write(_frame(i), [p])
    sink.close()
    tr = load_results(tmp_path / "clip.npz").tracks[1]
    pose, shape = np.stack([p.pose for p in people]), np.stack([p.shape for p in people])
    assert sorted(tr.params) == ["rot6d", "size_cm"]
    np.testing.assert_allclose(tr.params["rot6d"][2, 4], pose[2, 4, :, :2].ravel())
    np.testing.assert_allclose(tr.params["size_cm"], 100.0 * shape, rtol=1e-6)
    np.testing.assert_allclose(tr.pose, pose, atol=1e-6)
    np.testing.assert_allclose(tr.shape, shape, rtol=1e-6)
    with pytest.raises(InputError, match="unknown body model 'other'"):
        NpzSink(tmp_path / "other.npz", dict(body_model="other"))


def test_npz_periodic_flush_is_loadable_midway(tmp_path):
    rng = np.random.default_rng(1)
    sink = NpzSink(tmp_path / "c.npz", dict(body_model="anny"), flush_every_s=0.0)
    for i in range(3):
        sink.write(_frame(i), [_person(5, i, rng)])
    # Not closed: the last periodic flush holds all three frames.
    assert load_results(tmp_path / "c.npz").tracks[5].frame_ids.tolist() == [0, 1, 2]
    assert not list(tmp_path.glob("*.tmp*"))


def test_load_results_rejects_foreign_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_results(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(InputError, match="not an NPZ"):
        load_results(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="not a metahmr-video results file"):
        load_results(tmp_path / "other.npz")
    np.savez(tmp_path / "partial.npz", meta=np.array(json.dumps({"body_model": "anny"})), track_ids=np.array([3]))
    with pytest.raises(InputError, match="track 3 lacks"):
        load_results(tmp_path / "partial.npz")


def _quad(z, x0, x1, y0, y1):
    """Two outward (towards the camera) triangles of a square at depth z, camera frame metres."""
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], np.float64)
    f = np.array([[0, 2, 1], [0, 3, 2]])
    return v, f


def test_rasteriser_projects_and_occludes():
    img = np.zeros((200, 200, 3), np.uint8)
    near, faces = _quad(2.0, -0.1, 0.1, -0.1, 0.1)        # projects to [50, 150] px with f=1000
    far, _ = _quad(4.0, 0.0, 0.4, -0.2, 0.2)              # behind it, to the right: [100, 200] x [50, 150]
    # Face normals must point at the camera (-z): check the winding convention used.
    n = np.cross(near[faces[0, 1]] - near[faces[0, 0]], near[faces[0, 2]] - near[faces[0, 0]])
    assert n[2] < 0
    out = render_meshes(img, [(far, (0, 255, 0)), (near, (255, 0, 0))], faces, 1000.0, (100.0, 100.0), opacity=1.0)
    assert out[100, 100, 0] > 100 and out[100, 100, 1] == 0          # centre: the near red square
    assert out[100, 140, 0] > 100 and out[100, 140, 1] == 0          # overlap: near wins
    assert out[100, 170, 1] > 100 and out[100, 170, 0] == 0          # only the far square
    assert out[20, 20].sum() == 0 and out[100, 45].sum() == 0        # outside both: untouched
    # Order of the meshes in the list does not matter (depth sorting, not draw order).
    out2 = render_meshes(img, [(near, (255, 0, 0)), (far, (0, 255, 0))], faces, 1000.0, (100.0, 100.0), opacity=1.0)
    np.testing.assert_array_equal(out, out2)
    # Seen from behind (winding reversed) the square is culled.
    back = render_meshes(img, [(near, (255, 0, 0))], faces[:, ::-1], 1000.0, (100.0, 100.0), opacity=1.0)
    assert back.sum() == 0


def test_overlay_video_decodes_with_meshes(tmp_path):
    near, faces = _quad(2.0, -0.1, 0.1, -0.1, 0.1)
    sink = OverlayVideoSink(tmp_path / "o.mp4", 25.0, faces, 1000.0, (100.0, 80.0), with_side_view=True)
    rng = np.random.default_rng(2)
    for i in range(10):
        p = _person(1, i, rng)
        p.vertices = near
        sink.write(Frame(index=i, time_s=i / 25, image=np.full((160, 200, 3), 30, np.uint8)), [p])
    sink.close()
    with av.open(str(tmp_path / "o.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 10
    assert frames[0].shape == (160, 300, 3)                                # frame + side panel
    assert frames[5][80, 100].astype(int).sum() > frames[5][5, 5].astype(int).sum() + 100   # mesh drawn at centre


def test_side_view_draws_the_ground_under_the_people():
    """With a world, the side panel draws the ground grid (0.5 m squares) and it lies below a body
    that stands on that ground; without one, no grid."""
    from metahmr_video.sinks.render import side_view
    from metahmr_video.world import WorldFrame

    p = np.radians(-20.0)
    world = WorldFrame(up=np.array([0.0, -np.cos(p), np.sin(p)]), height_m=1.6)
    # A 1.7 m tall, 0.4 m deep board standing on the ground 4 m in front of the camera, edge-on to
    # it (the side view sees its face).
    corners_w = np.array([[0.0, 0.0, -4.2], [0.0, 0.0, -3.8], [0.0, 1.7, -3.8], [0.0, 1.7, -4.2]])
    board = (corners_w - [0.0, 1.6, 0.0]) @ world.rotation
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 2, 1], [0, 3, 2]])       # both sides
    meshes = [(board, (255, 0, 0))]
    grid = (90, 90, 90)
    plain = side_view(meshes, faces, (200, 300), 500.0)
    assert not (plain == grid).all(-1).any()
    panel = side_view(meshes, faces, (200, 300), 500.0, world=world)
    rows = np.nonzero((np.abs(panel.astype(int) - grid).sum(-1) < 40))[0]
    body_rows = np.nonzero((panel[..., 0] > 150) & (panel[..., 1] < 80))[0]
    assert len(rows) > 50 and len(body_rows) > 20
    assert np.median(rows) > body_rows.max() - 5                          # the grid is at the feet and below

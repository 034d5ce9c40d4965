"""Mesh files through open3d (the viz extra), re-read and compared with the body model's own vertices."""
import numpy as np
import pytest
import torch

from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_video.sinks import NpzSink, track_color

o3d = pytest.importorskip("open3d", exc_type=ImportError)  # also skips when libusb is missing


def test_written_meshes_reimport_equal_to_body_model(tmp_path, anny_body):
    from metahmr_video.app.viz import write_meshes
    rng = np.random.default_rng(0)
    sink = NpzSink(tmp_path / "clip.npz", dict(body_model="anny", fps=25.0))
    poses, shapes, transls = [], [], []
    for i in range(3):
        pose = axis_angle_to_rotmat(torch.tensor(rng.normal(scale=0.3, size=(31, 3)))).float().numpy()
        shape = rng.uniform(0.2, 0.8, size=6).astype(np.float32)
        transl = np.array([0.1 * i, 0.0, 4.0], np.float32)
        poses.append(pose), shapes.append(shape), transls.append(transl)
        z = np.zeros((33, 3), np.float32)
        sink.write(Frame(i, i / 25, np.zeros((2, 2, 3), np.uint8)), [PersonBody(
            4, i, i / 25, pose, shape, transl, np.zeros((31, 3), np.float32), z, z[:, :2], z[:, 0], np.zeros(4, np.float32), 0.0)])
    sink.close()
    paths = write_meshes(tmp_path / "clip.npz", tmp_path / "meshes", topology="notoes_collapse10pc")
    assert [p.name for p in paths] == [f"clip_track4_{i:06d}.ply" for i in range(3)]
    expected = anny_body(torch.from_numpy(np.stack(poses)), torch.from_numpy(np.stack(shapes)),
                         torch.from_numpy(np.stack(transls))).vertices.detach().numpy()
    for i, path in enumerate(paths):
        mesh = o3d.io.read_triangle_mesh(str(path))
        np.testing.assert_allclose(np.asarray(mesh.vertices), expected[i], atol=1e-5)
        assert len(mesh.triangles) == anny_body.faces.shape[0]
        np.testing.assert_allclose(np.asarray(mesh.vertex_colors)[0], np.array(track_color(4)) / 255, atol=1 / 255)

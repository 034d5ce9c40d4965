"""Rotation conversions and the full-frame camera against independent references."""
import math

import torch

from metahmr_video.core import camera, rotations


def test_sixd_round_trip_and_orthonormal():
    torch.manual_seed(0)
    rotvec = torch.randn(64, 3)
    rotmat = rotations.axis_angle_to_rotmat(rotvec)
    back = rotations.sixd_to_rotmat(rotations.rotmat_to_sixd(rotmat))
    assert torch.allclose(back, rotmat, atol=1e-5)
    noisy = rotations.sixd_to_rotmat(torch.randn(64, 6))
    eye = torch.eye(3).expand(64, 3, 3)
    assert torch.allclose(noisy @ noisy.transpose(-1, -2), eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(noisy), torch.ones(64), atol=1e-5)


def test_axis_angle_matches_rodrigues_about_z():
    angle = 0.7
    r = rotations.axis_angle_to_rotmat(torch.tensor([0.0, 0.0, angle]))
    expected = torch.tensor([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    assert torch.allclose(r, expected, atol=1e-6)
    assert torch.allclose(rotations.rotmat_to_axis_angle(r), torch.tensor([0.0, 0.0, angle]), atol=1e-6)


def test_projection_of_known_points():
    pts = torch.tensor([[[1.0, 0.5, 4.0], [0.0, 0.0, 2.0], [-0.2, 0.1, 1.0]]])
    uv = camera.project(pts, torch.tensor([1000.0]), torch.tensor([[320.0, 240.0]]))
    expected = torch.tensor([[[570.0, 365.0], [320.0, 240.0], [120.0, 340.0]]])
    assert torch.allclose(uv, expected)


def test_default_focal_and_intrinsics():
    k = camera.intrinsics(640, 480)
    assert k[0, 0] == 800.0 and k[1, 1] == 800.0 and k[0, 2] == 320.0 and k[1, 2] == 240.0


def test_crop_camera_agrees_with_the_perspective_projection():
    """The body centre placed by `crop_cam_to_full_transl` projects where the weak-perspective crop
    camera puts it (box centre + side/2 * s * (tx, ty)), at the depth 2 f / (s side)."""
    cam = torch.tensor([[0.8, 0.1, -0.2], [1.1, -0.3, 0.05]])
    center = torch.tensor([[700.0, 300.0], [200.0, 500.0]])
    size = torch.tensor([300.0, 150.0])
    focal = torch.tensor([1200.0, 1200.0])
    img_c = torch.tensor([[640.0, 360.0], [640.0, 360.0]])
    transl = camera.crop_cam_to_full_transl(cam, center, size, focal, img_c)
    assert torch.allclose(transl[:, 2], 2 * focal / (cam[:, 0] * size))
    uv = camera.project(transl[:, None], focal, img_c)[:, 0]
    weak = center + size[:, None] / 2 * cam[:, :1] * cam[:, 1:]
    assert torch.allclose(uv, weak, atol=1e-3)

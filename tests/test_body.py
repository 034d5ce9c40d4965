"""Body-model layer: gradients against finite differences, batching, keypoint map, SMPL path."""

import numpy as np
import pytest
import torch

from metahmr_video.body import COCO_FROM_MEDIAPIPE, MEDIAPIPE_33, SmplBody
from metahmr_video.core.layout import COCO_17, mirror_index
from metahmr_video.core.errors import ModelFileError
from metahmr_video.core.rotations import axis_angle_to_rotmat

from smpl_files import SMPL_PARENTS, build_smpl_dict, write_smpl_pkl


def _random_pose(body, batch, scale=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return axis_angle_to_rotmat(torch.randn(batch, body.num_bones, 3, generator=g) * scale)


def test_anny_joint_gradient_matches_finite_differences(anny_body):
    """d(sum of weighted joints)/d(axis-angle of one bone, one phenotype) by autograd vs central FD."""
    base = torch.randn(1, anny_body.num_bones, 3, generator=torch.Generator().manual_seed(3)) * 0.3
    # Away from the phenotype anchors (0, 0.5, 1 and age's), where the blend weights have kinks.
    shape = torch.tensor([[0.3, 0.8, 0.4, 0.35, 0.7, 0.6]])
    w = torch.randn(1, anny_body.num_bones, 3, generator=torch.Generator().manual_seed(4))

    def f(rotvec, phen):
        out = anny_body(axis_angle_to_rotmat(rotvec), shape=phen, return_vertices=False)
        return (out.joints * w).sum() + (out.keypoints[:, :3]).sum()

    rv = base.clone().requires_grad_()
    ph = shape.clone().requires_grad_()
    f(rv, ph).backward()
    eps = 1e-2
    for bone in (anny_body.bone_names.index("LeftUpLeg"), anny_body.bone_names.index("RightForeArm"), 0):
        for axis in range(3):
            d = torch.zeros_like(base)
            d[0, bone, axis] = eps
            fd = (f(base + d, shape) - f(base - d, shape)) / (2 * eps)
            assert fd.item() == pytest.approx(rv.grad[0, bone, axis].item(), abs=2e-3, rel=2e-2)
    for k in range(6):
        d = torch.zeros_like(shape)
        d[0, k] = eps
        fd = (f(base, shape + d) - f(base, shape - d)) / (2 * eps)
        assert fd.item() == pytest.approx(ph.grad[0, k].item(), abs=2e-3, rel=2e-2)


def test_anny_batch_equals_per_item(anny_body):
    pose = _random_pose(anny_body, 4)
    shape = torch.rand(4, 6, generator=torch.Generator().manual_seed(5))
    transl = torch.tensor([[0.0, 0.0, 3.0], [1.0, 0.2, 5.0], [-0.5, 0.1, 4.0], [0.0, 0.0, 8.0]])
    batched = anny_body(pose, shape, transl)
    for i in range(4):
        one = anny_body(pose[i:i + 1], shape[i:i + 1], transl[i:i + 1])
        assert torch.allclose(one.joints, batched.joints[i:i + 1], atol=1e-5)
        assert torch.allclose(one.vertices, batched.vertices[i:i + 1], atol=1e-5)
        assert torch.allclose(one.keypoints, batched.keypoints[i:i + 1], atol=1e-5)


def test_anny_transl_is_pelvis_and_global_rotation_is_rigid(anny_body):
    pose = _random_pose(anny_body, 1, seed=7)
    transl = torch.tensor([[0.2, -0.1, 4.0]])
    out = anny_body(pose, transl=transl)
    assert torch.allclose(out.joints[:, 0], transl, atol=1e-6)
    r = axis_angle_to_rotmat(torch.tensor([0.3, -1.1, 0.4]))
    turned = pose.clone()
    turned[:, 0] = r @ pose[:, 0]
    out2 = anny_body(turned, transl=transl)
    expected = (out.vertices - transl[:, None]) @ r.T + transl[:, None]
    assert torch.allclose(out2.vertices, expected, atol=1e-4)


def test_anny_keypoints_symmetric_at_rest_and_anatomical(anny_body):
    rest = torch.eye(3).expand(1, anny_body.num_bones, 3, 3)
    kp = anny_body(rest).keypoints[0]
    mirrored = kp[mirror_index(MEDIAPIPE_33)].clone()
    mirrored[:, 0] *= -1
    assert (mirrored - kp).norm(dim=-1).max() < 2e-3
    name = {n: kp[i] for i, n in enumerate(MEDIAPIPE_33)}
    # Anny's frame is Z-up, facing -Y, left = +X.
    assert name["left_shoulder"][0] > 0.1 and name["right_shoulder"][0] < -0.1
    assert name["nose"][2] > name["left_shoulder"][2] > name["left_hip"][2] > name["left_knee"][2] > name["left_ankle"][2]
    assert name["nose"][1] < name["left_ear"][1]  # the nose points forward (-Y)
    assert name["left_foot_index"][1] < name["left_heel"][1]
    assert [MEDIAPIPE_33[i] for i in COCO_FROM_MEDIAPIPE] == list(COCO_17)


def test_smpl_rest_joints_shape_and_kinematics_match_numpy(tmp_path):
    path = write_smpl_pkl(tmp_path / "SMPL_TEST.pkl")
    data = build_smpl_dict()
    body = SmplBody(path)
    assert body.name == "smpl" and body.num_bones == 24
    betas = torch.tensor([[0.5, -1.0, 0.3, 0, 0, 0, 0, 0, 0, 0.2]])
    transl = torch.tensor([[0.1, 0.2, 3.0]])
    rest = torch.eye(3).expand(1, 24, 3, 3)
    out = body(rest, betas, transl)
    v_shaped = data["v_template"] + data["shapedirs"] @ betas[0].double().numpy()
    np.testing.assert_allclose(out.vertices[0].numpy(), v_shaped + transl[0].numpy(), atol=1e-5)
    joints = data["J_regressor"] @ v_shaped
    np.testing.assert_allclose(out.joints[0, :24].numpy(), joints + transl[0].numpy(), atol=1e-5)
    # rest_joints: the mean shape (betas 0) at rest, no translation
    np.testing.assert_allclose(body.rest_joints()[:24].numpy(), data["J_regressor"] @ data["v_template"], atol=1e-5)

    # Bend the left elbow (joint 18): vertices owned by 18 and its descendants rotate about joint 18.
    angle = 0.9
    pose = rest.clone()
    pose[0, 18] = axis_angle_to_rotmat(torch.tensor([0.0, angle, 0.0]))
    bent = body(pose, betas, transl).vertices[0].numpy() - transl[0].numpy()
    r = axis_angle_to_rotmat(torch.tensor([0.0, angle, 0.0])).double().numpy()
    desc = {18}
    for j, p in enumerate(SMPL_PARENTS):
        if p in desc:
            desc.add(j)
    owner = np.arange(len(v_shaped)) % 24
    moved = np.isin(owner, sorted(desc))
    expected = v_shaped.copy()
    expected[moved] = (v_shaped[moved] - joints[18]) @ r.T + joints[18]
    np.testing.assert_allclose(bent, expected, atol=1e-5)
    # The keypoint map reads the elbow and wrist joints; mouth corners are undefined on SMPL.
    kp = body(pose, betas, transl).keypoints[0]
    assert torch.allclose(kp[MEDIAPIPE_33.index("left_elbow")], torch.tensor(joints[18] + transl[0].numpy()).float(), atol=1e-5)
    assert body.keypoint_mask[MEDIAPIPE_33.index("mouth_left")] == 0


def test_smpl_gradient_matches_finite_differences(tmp_path):
    body = SmplBody(write_smpl_pkl(tmp_path / "m.pkl", seed=2)).double()
    rv0 = torch.randn(1, 24, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.3

    def f(rv):
        return body(axis_angle_to_rotmat(rv)).keypoints.pow(2).sum()

    rv = rv0.clone().requires_grad_()
    f(rv).backward()
    eps = 1e-6
    for j, a in ((0, 0), (4, 1), (18, 2)):
        d = torch.zeros_like(rv0)
        d[0, j, a] = eps
        fd = (f(rv0 + d) - f(rv0 - d)) / (2 * eps)
        assert fd.item() == pytest.approx(rv.grad[0, j, a].item(), rel=1e-5, abs=1e-8)


def test_smpl_bad_files_give_one_clear_error(tmp_path):
    missing = tmp_path / "nope" / "SMPL_NEUTRAL.pkl"
    with pytest.raises(ModelFileError, match="nope/SMPL_NEUTRAL.pkl: SMPL model file not found"):
        SmplBody(missing)
    corrupt = tmp_path / "corrupt.pkl"
    corrupt.write_bytes(b"\x80\x04garbage" * 10)
    with pytest.raises(ModelFileError, match="corrupt.pkl: not a readable"):
        SmplBody(corrupt)
    import pickle
    partial = tmp_path / "partial.pkl"
    partial.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}))
    with pytest.raises(ModelFileError, match="partial.pkl: not an SMPL"):
        SmplBody(partial)
    chumpy = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    chumpy.write_bytes(b"\x80\x02cchumpy.ch\nCh\nq\x00.")  # a pickle of a chumpy object, as some official files are
    with pytest.raises(ModelFileError, match="stores chumpy objects; remove them with smplx's tools/clean_ch.py"):
        SmplBody(chumpy)


def test_anny_fitting_path_equals_full_skinning(anny_body):
    """return_vertices=False blends only the landmark vertices: same keypoints and gradients."""
    g = torch.Generator().manual_seed(11)
    rv = (torch.randn(3, anny_body.num_bones, 3, generator=g) * 0.4).requires_grad_()
    shape = (torch.rand(3, 6, generator=g) * 0.8 + 0.1).requires_grad_()
    transl = torch.tensor([[0.0, 0.1, 3.0], [0.5, 0.0, 5.0], [-0.3, 0.2, 4.0]])
    full = anny_body(axis_angle_to_rotmat(rv), shape, transl, return_vertices=True)
    fast = anny_body(axis_angle_to_rotmat(rv), shape, transl, return_vertices=False)
    assert fast.vertices is None
    assert torch.allclose(fast.joints, full.joints, atol=1e-6)
    assert torch.allclose(fast.keypoints, full.keypoints, atol=1e-6)
    w = torch.randn(3, 33, 3, generator=g)
    g_full = torch.autograd.grad((full.keypoints * w).sum(), [rv, shape])
    g_fast = torch.autograd.grad((fast.keypoints * w).sum(), [rv, shape])
    for a, b in zip(g_full, g_fast):
        assert torch.allclose(a, b, atol=1e-4)

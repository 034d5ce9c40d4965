"""Animation export checked by independent readers: the BVH's forward kinematics by bvhio, the GLB
by pygltflib (skin, joints, animation, and node-hierarchy kinematics) and trimesh, the FBX by
re-importing it with Blender's own importer (skipped when bpy is absent). Anny and SMPL results
both export; bad inputs give one-line InputErrors."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from metahmr_video.core.records import Frame, PersonBody
from metahmr_video.core.errors import InputError, MetaHMRError
from metahmr_video.core.results import load_results
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_video.sinks import NpzSink
from metahmr_video.export import camera_to_world, export, track_animation
from smpl_files import write_smpl_pkl

FPS = 25.0
T = 30
GAP_FRAMES = {7, 8, 19}            # track 2 is unseen on these frames
CHECK_FRAMES = [0, 5, 9, 17, 29]   # video frames compared below (track 2 is seen on all of them)


def _write_results(path, body, name, num_shape, rng, transl_offset=(0.0, 0.0, 0.0)):
    """A results NPZ of two tracks moving smoothly, their joints computed by `body` itself."""
    num_bones = body.num_bones
    shape = torch.tensor(rng.uniform(0.3, 0.7, size=(1, num_shape)) if name == "anny"
                         else rng.normal(size=(1, num_shape)), dtype=torch.float32)
    phase = rng.uniform(0, 6, size=(num_bones, 3))
    meta = dict(body_model=name, fps=FPS, image_size=[640, 480])
    if name == "anny":
        meta.update(joint_names=body.bone_names, parents=body.parents)
    sink = NpzSink(path, meta)
    for i in range(T):
        people = []
        for tid in (1, 2):
            if tid == 2 and i in GAP_FRAMES:
                continue
            aa = 0.5 * np.sin(i / 5 + phase + tid)
            # Upright, facing the camera (OpenCV frame), turning a little.
            aa[0] = [np.pi / 2 + 0.1 * np.sin(i / 4), 0.4 * np.sin(i / 7), 0.05] if name == "anny" else [np.pi, 0.3 * np.sin(i / 7), 0]
            pose = axis_angle_to_rotmat(torch.tensor(aa, dtype=torch.float32))[None]
            transl = torch.tensor([[0.3 * np.sin(i / 9) + tid - 1.5, 0.1, 3.0 + 0.02 * i]], dtype=torch.float32) \
                + torch.tensor([transl_offset], dtype=torch.float32)
            with torch.no_grad():
                out = body(pose, shape, transl)
            people.append(PersonBody(
                track_id=tid, frame_index=i, time_s=i / FPS, pose=pose[0].numpy(), shape=shape[0].numpy(),
                transl=transl[0].numpy(), joints=out.joints[0].numpy(), keypoints3d=out.keypoints[0].numpy(),
                keypoints2d=np.zeros((33, 2), np.float32), keypoint_conf=np.ones(33, np.float32),
                box=np.zeros(4, np.float32), reproj_error=0.0))
        sink.write(Frame(index=i, time_s=i / FPS, image=np.zeros((4, 4, 3), np.uint8)), people)
    sink.close()
    return path


@pytest.fixture(scope="module")
def anny_results(tmp_path_factory, anny_body):
    return _write_results(tmp_path_factory.mktemp("anny") / "clip.npz", anny_body, "anny", 6, np.random.default_rng(0))


@pytest.fixture(scope="module")
def smpl_results(tmp_path_factory):
    from metahmr_video.body import SmplBody

    folder = tmp_path_factory.mktemp("smpl")
    model = write_smpl_pkl(folder / "SMPL_TEST.pkl")
    body = SmplBody(model)
    return _write_results(folder / "clip.npz", body, "smpl", 10, np.random.default_rng(1)), model


def _expected(results_path, tid, up, frames, num_bones):
    tr = load_results(results_path).tracks[tid]
    rows = [int(np.nonzero(tr.frame_ids == f)[0][0]) for f in frames]
    return camera_to_world(tr.joints[rows, :num_bones], up)


def _bvh_positions(path, frames, names):
    bvhio = pytest.importorskip("bvhio")
    root = bvhio.readAsHierarchy(str(path))
    out = []
    for f in frames:
        root.loadPose(f)
        world = {j.Name: tuple(j.PositionWorld) for j, _, _ in root.layout()}
        out.append([world[n] for n in names])
    return np.array(out)


def test_track_animation_fk_matches_stored_joints(anny_results):
    res = load_results(anny_results)
    for up in ("y_up", "z_up"):
        anim = track_animation(res, 2, up=up, with_mesh=False)
        assert anim.num_bones == 31 and anim.bone_names[0] == "Hips"
        assert len(anim.frames) == T - len(GAP_FRAMES) and anim.fps == FPS
        np.testing.assert_allclose(anim.joint_positions(), camera_to_world(res.tracks[2].joints, up), atol=1e-5)
    # Upright: the head is above the pelvis along the export frame's up axis.
    y = track_animation(res, 1, "y_up", with_mesh=False)
    z = track_animation(res, 1, "z_up", with_mesh=False)
    head = y.bone_names.index("Head")
    assert (y.joint_positions()[:, head, 1] > y.joint_positions()[:, 0, 1] + 0.3).all()
    assert (z.joint_positions()[:, head, 2] > z.joint_positions()[:, 0, 2] + 0.3).all()
    assert y.rest_heads[head, 1] > 0.3 and z.rest_heads[head, 2] > 0.3


def test_bvh_forward_kinematics_by_bvhio(anny_results, tmp_path):
    paths = export(anny_results, "bvh", tmp_path / "clip.bvh")
    assert [p.name for p in paths] == ["clip_track1.bvh", "clip_track2.bvh"]
    text = paths[1].read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    assert f"Frames: {T}" in text and f"Frame Time: {1 / FPS:.8f}" in text   # gaps filled: every frame
    anim = track_animation(load_results(anny_results), 2, "y_up", with_mesh=False)
    # Track 2 starts at frame 0, so BVH frame k is video frame k.
    got = _bvh_positions(paths[1], CHECK_FRAMES, anim.bone_names) / 100.0        # cm -> m
    want = _expected(anny_results, 2, "y_up", CHECK_FRAMES, 31)
    assert np.abs(got - want).max() < 1e-3
    metres = export(anny_results, "bvh", tmp_path / "m", tracks=[1], bvh_units="m")
    assert metres == [tmp_path / "m" / "clip_track1.bvh"]
    got = _bvh_positions(metres[0], [3], anim.bone_names)
    assert np.abs(got - _expected(anny_results, 1, "y_up", [3], 31)).max() < 1e-3


def _accessor(gltf, blob, index):
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}[acc.componentType]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    data = np.frombuffer(blob, dtype=dtype, count=acc.count * width, offset=view.byteOffset + (acc.byteOffset or 0))
    return data.reshape(acc.count, width) if width > 1 else data


def _quat_matrix(q):
    from scipy.spatial.transform import Rotation
    return Rotation.from_quat(q).as_matrix()


def _gltf_joint_positions(gltf, blob, skin, t):
    """World positions of a skin's joints at animation time t, from node TRS and LINEAR channels."""
    anim = gltf.animations[0]
    local = {}
    for j in skin.joints:
        node = gltf.nodes[j]
        local[j] = [np.eye(3), np.array(node.translation or [0, 0, 0], np.float64)]
    for ch in anim.channels:
        if ch.target.node not in local:
            continue
        s = anim.samplers[ch.sampler]
        times, vals = _accessor(gltf, blob, s.input), _accessor(gltf, blob, s.output).astype(np.float64)
        k = int(np.argmin(np.abs(times - t)))
        assert abs(times[k] - t) < 1e-5
        if ch.target.path == "rotation":
            local[ch.target.node][0] = _quat_matrix(vals[k])
        else:
            local[ch.target.node][1] = vals[k]
    parent = {c: i for i, n in enumerate(gltf.nodes) for c in (n.children or [])}
    world = {}

    def solve(j):
        if j not in world:
            r, p = local[j]
            if parent.get(j) in local:
                pr, pp = solve(parent[j])
                world[j] = (pr @ r, pp + pr @ p)
            else:
                world[j] = (r, p)
        return world[j]

    return np.array([solve(j)[1] for j in skin.joints])


def test_glb_skin_joints_animation_by_pygltflib(anny_results, tmp_path):
    pygltflib = pytest.importorskip("pygltflib")
    (path,) = export(anny_results, "glb", tmp_path / "all.glb", per_track=False)
    gltf = pygltflib.GLTF2().load(str(path))
    blob = gltf.binary_blob()
    assert len(gltf.skins) == 2 and all(len(s.joints) == 31 for s in gltf.skins)
    assert len(gltf.meshes) == 2 and len(gltf.animations) == 1
    prim = gltf.meshes[0].primitives[0]
    assert gltf.accessors[prim.attributes.POSITION].count == 13718
    weights = _accessor(gltf, blob, prim.attributes.WEIGHTS_0)
    joints = _accessor(gltf, blob, prim.attributes.JOINTS_0)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
    assert joints.max() < 31
    ibm = _accessor(gltf, blob, gltf.skins[0].inverseBindMatrices)
    assert ibm.shape == (31, 16)
    anim = gltf.animations[0]
    assert len(anim.channels) == 2 * (31 + 1)
    inputs = {anim.samplers[c.sampler].input for c in anim.channels}
    counts = sorted(gltf.accessors[i].count for i in inputs)
    assert counts == [T - len(GAP_FRAMES), T]                 # animation length = frames seen
    assert max(gltf.accessors[i].max[0] for i in inputs) == pytest.approx((T - 1) / FPS)
    for tid, skin in zip((1, 2), gltf.skins):
        for f in (0, 9, 29):
            got = _gltf_joint_positions(gltf, blob, skin, f / FPS)
            want = _expected(anny_results, tid, "y_up", [f], 31)[0]
            assert np.abs(got - want).max() < 1e-4
    trimesh = pytest.importorskip("trimesh")
    scene = trimesh.load(str(path))
    assert sum(len(g.vertices) for g in scene.geometry.values()) == 2 * 13718


@pytest.fixture(scope="module")
def bpy_module():
    return pytest.importorskip("bpy")


def _reimport_fbx(bpy, path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)  # FBX time 0 = video frame 0
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    return arms, meshes


def _fbx_joint_positions(bpy, arm, names, frames):
    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(f)
        out.append([np.array(arm.matrix_world @ arm.pose.bones[n].head) for n in names])
    return np.array(out)


def test_fbx_reimported_by_blender_matches_joints(anny_results, tmp_path, bpy_module):
    bpy = bpy_module
    paths = export(anny_results, "fbx", tmp_path / "clip.fbx", tracks=[2])
    assert paths == [tmp_path / "clip_track2.fbx"]
    arms, meshes = _reimport_fbx(bpy, paths[0])
    assert len(arms) == 1 and len(meshes) == 1
    arm, mesh = arms[0], meshes[0]
    names = [b.name for b in arm.data.bones]
    assert len(names) == 31 and "Hips" in names and "LeftForeArm" in names
    assert len(mesh.data.vertices) == 13718 and len(mesh.vertex_groups) >= 25
    assert any(m.type == "ARMATURE" and m.object == arm for m in mesh.modifiers)
    assert bpy.context.scene.render.fps == 25
    order = track_animation(load_results(anny_results), 2, "z_up", with_mesh=False).bone_names
    got = _fbx_joint_positions(bpy, arm, order, CHECK_FRAMES)
    want = _expected(anny_results, 2, "z_up", CHECK_FRAMES, 31)
    assert np.abs(got - want).max() < 1e-3
    # The skinned mesh Blender deforms is Anny's own full-topology mesh for that pose and shape.
    from metahmr_video.body import AnnyBody

    tr = load_results(anny_results).tracks[2]
    row = int(np.nonzero(tr.frame_ids == 17)[0][0])
    with torch.no_grad():
        ours = AnnyBody(topology="anny")(torch.from_numpy(tr.pose[row:row + 1]), torch.from_numpy(tr.shape[row:row + 1]),
                                         torch.from_numpy(tr.transl[row:row + 1])).vertices[0].numpy()
    bpy.context.scene.frame_set(17)
    evaluated = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get())
    co = np.empty(len(evaluated.data.vertices) * 3, np.float32)
    evaluated.data.vertices.foreach_get("co", co)
    world = np.array(evaluated.matrix_world)
    blender = co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    assert np.abs(blender - camera_to_world(ours, "z_up")).max() < 1e-3


def test_fbx_one_file_for_all_tracks(anny_results, tmp_path, bpy_module):
    (path,) = export(anny_results, "fbx", tmp_path, per_track=False, mesh=False)
    assert path == tmp_path / "clip.fbx"
    arms, meshes = _reimport_fbx(bpy_module, path)
    assert len(arms) == 2 and not meshes


def test_smpl_results_export(smpl_results, tmp_path):
    results, model = smpl_results
    # Without the model file: skeleton recovered from the stored joints, BVH still exact.
    (bvh,) = export(results, "bvh", tmp_path / "s.bvh", tracks=[1])
    names = track_animation(load_results(results), 1, "y_up", with_mesh=False).bone_names
    assert names[0] == "pelvis" and len(names) == 24
    got = _bvh_positions(bvh, [0, 11, 29], names) / 100.0
    assert np.abs(got - _expected(results, 1, "y_up", [0, 11, 29], 24)).max() < 1e-3
    # With the model file: a skinned SMPL mesh in the GLB, and the same kinematics.
    pygltflib = pytest.importorskip("pygltflib")
    (glb,) = export(results, "glb", tmp_path / "s.glb", tracks=[2], body_model_path=model)
    gltf = pygltflib.GLTF2().load(str(glb))
    blob = gltf.binary_blob()
    assert len(gltf.skins[0].joints) == 24
    assert gltf.accessors[gltf.meshes[0].primitives[0].attributes.POSITION].count == 6890
    got = _gltf_joint_positions(gltf, blob, gltf.skins[0], 17 / FPS)
    assert np.abs(got - _expected(results, 2, "y_up", [17], 24)[0]).max() < 1e-4
    # No model file, GLB: skeleton and animation only.
    (bare,) = export(results, "glb", tmp_path / "bare.glb", tracks=[1])
    assert not pygltflib.GLTF2().load(str(bare)).meshes


def test_smpl_fbx(smpl_results, tmp_path, bpy_module):
    results, model = smpl_results
    (path,) = export(results, "fbx", tmp_path / "s.fbx", tracks=[1], body_model_path=model)
    arms, meshes = _reimport_fbx(bpy_module, path)
    assert len(meshes[0].data.vertices) == 6890
    names = track_animation(load_results(results), 1, "z_up", with_mesh=False).bone_names
    got = _fbx_joint_positions(bpy_module, arms[0], names, [0, 12, 29])
    assert np.abs(got - _expected(results, 1, "z_up", [0, 12, 29], 24)).max() < 1e-3


def test_bad_inputs_give_one_line_errors(anny_results, tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="not a metahmr-video results file"):
        export(tmp_path / "other.npz", "bvh", tmp_path / "o.bvh")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(InputError, match="not an NPZ"):
        export(tmp_path / "text.npz", "glb", tmp_path / "o.glb")
    with pytest.raises(InputError, match="not found"):
        export(tmp_path / "missing.npz", "glb", tmp_path / "o.glb")
    with pytest.raises(InputError, match="unknown export format 'obj'"):
        export(anny_results, "obj", tmp_path / "o.obj")
    with pytest.raises(InputError, match="no track 9"):
        export(anny_results, "bvh", tmp_path, tracks=[9])
    with pytest.raises(InputError, match="one file per track"):
        export(anny_results, "bvh", tmp_path / "o.bvh", per_track=False)
    (tmp_path / "afile").write_text("")
    with pytest.raises(InputError, match="cannot create the output folder"):
        export(anny_results, "glb", tmp_path / "afile" / "sub" / "o.glb")
    (tmp_path / "o_track1.glb").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        export(anny_results, "glb", tmp_path / "o.glb", tracks=[1])
    for exc in (InputError,):
        assert "\n" not in str(exc)


def test_fbx_without_bpy_says_how_to_install(anny_results, tmp_path, monkeypatch):
    """From a checkout the hint installs the checkout's extra; from a wheel, the package's."""
    from metahmr_video.core.paths import install_command

    checkout = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(checkout)
    monkeypatch.setitem(sys.modules, "bpy", None)      # `import bpy` now raises ImportError
    with pytest.raises(MetaHMRError, match=r"pip install -e '\.\[fbx\]'"):
        export(anny_results, "fbx", tmp_path / "o.fbx")
    assert not list(tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    assert install_command("fbx") == f"pip install -e '{checkout}[fbx]'"
    (tmp_path / "site-packages").mkdir()
    assert install_command("fbx", root=tmp_path / "site-packages") == "pip install 'metahmr-video[fbx]'"


def test_export_command(anny_results, tmp_path, capsys):
    from metahmr_video.export.cli import add_export_command

    parser = argparse.ArgumentParser()
    add_export_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", str(anny_results), "--format", "bvh", "-o", str(tmp_path / "c.bvh"),
                              "--tracks", "2"])
    assert args.func(args) == 0
    assert "c_track2.bvh" in capsys.readouterr().out and (tmp_path / "c_track2.bvh").is_file()
    args = parser.parse_args(["export", str(anny_results), "-f", "mp4", "-o", str(tmp_path)])
    with pytest.raises(InputError, match="unknown export format"):
        args.func(args)


def test_package_imports_without_bpy():
    import subprocess

    code = "import sys, metahmr_video.export, metahmr_video.export.cli; print('bpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_world_frame_export_stands_on_the_ground(anny_results):
    """With a world in the results, the export's forward kinematics equal the stored joints put in
    that world (a camera pitched 25 degrees down and rolled 10: the body comes out upright, its
    root placed at the planted and held position); --frame camera gives the camera's frame."""
    from metahmr_video.world import WorldFrame

    res = load_results(anny_results)
    p, r = np.radians(-25.0), np.radians(10.0)
    world = WorldFrame(up=np.array([np.cos(p) * np.sin(r), -np.cos(p) * np.cos(r), np.sin(p)]), height_m=1.8)
    res.meta["camera_to_world"] = world.camera_to_world.tolist()
    tr = res.tracks[2]
    tr.world_scale = np.linspace(0.95, 1.05, len(tr.frame_ids)).astype(np.float32)
    hold = np.c_[np.linspace(0, 0.1, len(tr.frame_ids)), np.zeros(len(tr.frame_ids)), np.full(len(tr.frame_ids), -0.05)]
    tr.transl_world = world.points(tr.transl * tr.world_scale[:, None]) + hold
    anim = track_animation(res, 2, up="y_up", with_mesh=False)
    want = world.points(tr.joints + ((tr.world_scale - 1)[:, None] * tr.transl)[:, None]) + hold[:, None]
    np.testing.assert_allclose(anim.joint_positions(), want, atol=1e-5)
    z = track_animation(res, 2, up="z_up", with_mesh=False)
    np.testing.assert_allclose(z.joint_positions(), want[..., [0, 2, 1]] * [1, -1, 1], atol=1e-5)
    # Held feet by bent legs (`pose_world`, E71): the export's forward kinematics reach the bent legs' joints.
    from metahmr_video.body import AnnyBody
    from metahmr_video.world import bend_legs, leg_chains

    parents, legs = res.meta["parents"][:tr.pose.shape[1]], leg_chains(res.meta["joint_names"], AnnyBody.leg_joints)
    # Planted at 0.9 of the fitted size: the exported skeleton is that size, its feet where the world's are.
    tr.world_scale = np.full(len(tr.frame_ids), 0.9, np.float32)
    tr.transl_world = world.points(0.9 * tr.transl)
    ankles = world.points(0.9 * tr.joints[:, [leg[2] for leg in legs]])
    targets = ankles + [0.03, 0.0, -0.02]
    forward = np.tile([0.0, 0.0, 1.0], ankles.shape[:2] + (1,))
    pose_world, joints_world = bend_legs(tr.pose, world.points(0.9 * tr.joints), parents, legs, targets, forward,
                                         world.rotation)
    pose_world[:, 0] = world.rotation @ pose_world[:, 0]
    tr.pose_world = pose_world.astype(np.float32)
    bent = track_animation(res, 2, up="y_up", with_mesh=False).joint_positions()
    np.testing.assert_allclose(bent, joints_world[:, :tr.pose.shape[1]], atol=1e-4)
    np.testing.assert_allclose(bent[:, [leg[2] for leg in legs]], targets, atol=2e-3)  # a straight leg reaches 0.9995
    tr.pose_world = None
    camera = track_animation(res, 2, up="y_up", with_mesh=False, frame="camera")
    np.testing.assert_allclose(camera.joint_positions(), camera_to_world(tr.joints, "y_up"), atol=1e-5)
    assert "no ground" in " ".join(track_animation(res, 1, "y_up", with_mesh=False).notes)
    with pytest.raises(InputError, match="unknown frame"):
        track_animation(res, 2, frame="sky")

"""SMPL / SMPL-X end to end on model files the tests build (never a real one): the fitting path and
smplx agree, the motion prior carried to the SMPL skeleton, a small training run, a fit that lowers
the 2D error, `run --body` writing SMPL parameters that `smplx.create(path)` turns back into our
joints, exports re-imported, and the one-line errors (not a model file, a checkpoint for another
model file, no checkpoint yet)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clips import write_clip_head
import torch

from metahmr_video.body import SmplBody
from metahmr_video.app.cli import main
from metahmr_video.core.errors import ModelFileError
from metahmr_video.model.checkpoint import default_checkpoint
from metahmr_video.core.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle
from smpl_files import write_smpl_pkl, write_smplx_npz

TINY = {"encoder_width": 64, "encoder_layers": 1, "head_width": 64, "ief_iters": 2}
ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "examples" / "media" / "pedestrians.mp4"
ANNY_CHECKPOINT = ROOT / "metahmr_video" / "checkpoints" / "anny_meta.pt"


@pytest.fixture(scope="module")
def smpl_file(tmp_path_factory):
    return write_smpl_pkl(tmp_path_factory.mktemp("models") / "SMPL_NEUTRAL.pkl")


@pytest.fixture(scope="module")
def smpl_body(smpl_file):
    return SmplBody(smpl_file)


@pytest.fixture(scope="module")
def smpl_prior(smpl_body):
    """A small retargeted motion prior, also registered as the body's default (so that code which
    asks `motion_prior(body)` does not build the full 16k-pose bank)."""
    from metahmr_trainer import retarget

    prior = retarget.RetargetedPrior(smpl_body, size=256, iters=60, progress=False)
    retarget._RETARGETED[(smpl_body.model_id, 16384)] = prior
    yield prior
    retarget._RETARGETED.pop((smpl_body.model_id, 16384), None)


@pytest.fixture(scope="module")
def smpl_checkpoint(smpl_body, smpl_prior, tmp_path_factory):
    """A tiny checkpoint trained in a few seconds: 60 plain iterations, then 20 meta iterations."""
    from metahmr_trainer.train import TrainConfig, Trainer

    folder = tmp_path_factory.mktemp("ckpt")
    Trainer(TrainConfig(mode="plain", iterations=60, batch=32, lr=1e-3, model=TINY), folder / "plain.pt",
            body=smpl_body, progress=False).run(resume=False)
    Trainer(TrainConfig(mode="meta", iterations=20, batch=16, init=str(folder / "plain.pt"), dual=False,
                        rates_scope="last", inner_lr=0.1), folder / "meta.pt", body=smpl_body,
            progress=False).run(resume=False)
    return folder / "meta.pt"


def _rand_pose(num_bones, batch, seed):
    g = torch.Generator().manual_seed(seed)
    return axis_angle_to_rotmat(torch.randn(batch, num_bones, 3, generator=g) * 0.5), g


@pytest.mark.parametrize("kind", ["smpl", "smplx"])
def test_fitting_path_and_smplx_create_agree(kind, tmp_path):
    """Pose correctives on: our skeleton+keypoint path equals full skinning, and smplx.create(path)
    called with our parameters as axis-angle gives our vertices and joints (transl: smplx's)."""
    import smplx

    path = write_smpl_pkl(tmp_path / "SMPL_MALE.pkl", pose_correctives=1e-3) if kind == "smpl" else \
        write_smplx_npz(tmp_path / "SMPLX_FEMALE.npz", pose_correctives=1e-3)
    body = SmplBody(path)
    assert body.name == kind and body.num_bones == (24 if kind == "smpl" else 22)
    pose, g = _rand_pose(body.num_bones, 3, 1)
    betas, transl = torch.randn(3, 10, generator=g), torch.randn(3, 3, generator=g)
    full = body(pose, betas, transl)
    fast = body(pose, betas, transl, return_vertices=False)
    assert torch.allclose(fast.joints, full.joints, atol=1e-5) and torch.allclose(fast.keypoints, full.keypoints, atol=1e-5)
    aa = rotmat_to_axis_angle(pose)
    ref = smplx.create(str(path), batch_size=3)(global_orient=aa[:, 0], body_pose=aa[:, 1:].reshape(3, -1),
                                                betas=betas, transl=transl)
    k = len(body.joint_names)
    assert torch.allclose(ref.joints[:, :k], full.joints, atol=1e-5)
    assert torch.allclose(ref.vertices, full.vertices, atol=1e-5)
    # transl is smplx's: the pelvis sits at transl + J_0(betas), whatever the global rotation.
    assert torch.allclose(full.joints[:, 0], transl + body.root_offset(betas), atol=1e-5)


def test_retargeted_prior_follows_anny(smpl_body, smpl_prior):
    """The prior carried by IK keeps Anny's limb and spine directions, and stands SMPL up (its +Y)."""
    assert smpl_prior.residual_deg < 5.0, smpl_prior.residual_deg
    rv = smpl_prior.sample(128, torch.Generator().manual_seed(0))
    assert rv.shape == (128, 24, 3)
    out = smpl_body(axis_angle_to_rotmat(rv), return_vertices=False)
    names = smpl_body.joint_names
    spine = out.joints[:, names.index("neck")] - out.joints[:, names.index("pelvis")]
    assert (spine[:, 1] > 0.5 * spine.norm(dim=-1)).float().mean() > 0.9  # upright in SMPL's frame


def test_retargeted_bank_is_kept_in_its_cache_file(smpl_body, tmp_path):
    from metahmr_trainer.retarget import RetargetedPrior

    first = RetargetedPrior(smpl_body, size=8, iters=3, progress=False, cache=tmp_path / "bank.pt")
    again = RetargetedPrior(smpl_body, size=8, iters=3, progress=False, cache=tmp_path / "bank.pt")
    assert (tmp_path / "bank.pt").is_file() and torch.equal(first.bank, again.bank)
    assert again.residual_deg == pytest.approx(first.residual_deg)


def test_small_training_run_lowers_train_loss(smpl_body, smpl_prior, tmp_path):
    from metahmr_video.adapt.steps import body_forward
    from metahmr_video.model import LossConfig, decode, features, train_loss
    from metahmr_trainer.data import SyntheticData
    from metahmr_trainer.train import TrainConfig, Trainer

    tr = Trainer(TrainConfig(mode="plain", iterations=1, batch=16, lr=3e-3, model=TINY), tmp_path / "t.pt",
                 body=smpl_body, progress=False)
    ev, tg = SyntheticData(smpl_body, prior=smpl_prior).sample(16, torch.Generator().manual_seed(7))
    assert ev.conf[:, 9:11].abs().sum() == 0  # SMPL has no mouth corners: no evidence there
    has = ev.has_world > 0.5  # people stand up in the camera frame (y down): nose above ankles
    assert (ev.world[has, 0, 1] < ev.world[has, 27, 1]).float().mean() > 0.7
    cfg = LossConfig(shape_center=0.0, shape_scale=smpl_body.shape_scale)

    def loss():
        with torch.no_grad():
            p = decode(tr.net(features(ev)), ev, smpl_body)
            return train_loss(p, body_forward(smpl_body, p), ev, tg, cfg).mean().item()
    before = loss()
    for _ in range(8):
        tr.step(ev, tg)
    assert loss() < 0.9 * before
    assert tr.checkpoint().body == smpl_body.model_id


def test_fit_lowers_2d_error(smpl_body, smpl_prior, smpl_checkpoint):
    from metahmr_video.adapt import Fitter
    from metahmr_trainer.data import SyntheticData

    fitter = Fitter.load(smpl_checkpoint, body=smpl_body)
    ev, _ = SyntheticData(smpl_body, prior=smpl_prior, image_size=(1280, 720)).sample(
        16, torch.Generator().manual_seed(424242))
    r0, r5 = fitter.fit_evidence(ev, steps=0), fitter.fit_evidence(ev, steps=5)
    assert r5.reproj_error.mean() < 0.95 * r0.reproj_error.mean(), (r0.reproj_error.mean(), r5.reproj_error.mean())
    assert r5.pose.shape == (16, 24, 3, 3) and r5.shape.shape == (16, 10) and r5.joints.shape == (16, 24, 3)
    assert r5.joint_names[:3] == ["pelvis", "left_hip", "right_hip"]


def test_checkpoint_for_another_body_is_one_clear_error(smpl_body, smpl_checkpoint, tmp_path):
    from metahmr_video.adapt import Fitter

    other = SmplBody(write_smpl_pkl(tmp_path / "SMPL_FEMALE.pkl", seed=3))
    with pytest.raises(ModelFileError, match=r"trained for body model smpl-\w+ \(SMPL_NEUTRAL.pkl\), not for "
                                             r"smpl-\w+ \(SMPL_FEMALE.pkl\); train one with: metahmr-video train"):
        Fitter.load(smpl_checkpoint, body=other)
    with pytest.raises(ModelFileError, match="trained for body model anny, not for smpl-"):
        Fitter.load(ANNY_CHECKPOINT, body=other)
    with pytest.raises(ModelFileError, match="give that body"):
        Fitter.load(smpl_checkpoint)


@pytest.fixture(scope="module")
def smpl_run(smpl_file, smpl_checkpoint, tmp_path_factory):
    """`metahmr-video run CLIP --body SMPL_NEUTRAL.pkl --overlay --export bvh glb` on 6 frames of the real clip,
    with the tiny checkpoint found in the cache as `train --body` would have put it."""
    folder = tmp_path_factory.mktemp("run")
    clip = write_clip_head(folder / "clip.mp4", 6)
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(folder / "cache"))
    target = default_checkpoint(SmplBody(smpl_file))
    target.parent.mkdir(parents=True)
    target.write_bytes(smpl_checkpoint.read_bytes())
    code = main(["run", str(clip), "--body", str(smpl_file), "-o", str(folder / "out"), "--steps", "2", "-q",
                 "--overlay", "--export", "bvh", "glb"])
    mp.undo()
    assert code == 0
    return folder / "out"


def test_run_writes_smpl_parameters_that_smplx_reproduces(smpl_run, smpl_file):
    import smplx

    from metahmr_video.core.results import load_results

    npz = np.load(smpl_run / "clip.npz")
    res = load_results(smpl_run / "clip.npz")
    assert res.meta["body_model"] == "smpl" and res.meta["body_model_path"] == str(smpl_file.resolve())
    assert res.meta["joint_names"][:2] == ["pelvis", "left_hip"] and len(res.meta["joint_names"]) == 24
    assert res.tracks, "the clip's people were not found"
    for tid, tr in res.tracks.items():
        T = len(tr.frame_ids)
        p = {k: npz[f"track_{tid}/{k}"] for k in ("global_orient", "body_pose", "betas", "transl", "joints")}
        assert p["global_orient"].shape == (T, 3) and p["body_pose"].shape == (T, 69)
        assert p["betas"].shape == (T, 10) and p["transl"].shape == (T, 3) and p["joints"].shape == (T, 24, 3)
        model = smplx.create(str(smpl_file), batch_size=T)
        out = model(**{k: torch.from_numpy(p[k]).float() for k in ("global_orient", "body_pose", "betas", "transl")})
        np.testing.assert_allclose(out.joints[:, :24].detach().numpy(), p["joints"], atol=1e-4)


def test_run_overlay_draws_the_smpl_meshes(smpl_run):
    import av

    with av.open(str(smpl_run / "clip_overlay.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(smpl_run.parent / "clip.mp4")) as c:
        original = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 6
    changed = np.mean([(np.abs(a.astype(int) - b.astype(int)).sum(-1) > 90).mean() for a, b in zip(frames, original)])
    assert changed > 0.002  # mesh pixels drawn (measured 0.9%); re-encoding alone changes ~0.003%


def test_run_exports_reimport_on_the_smpl_skeleton(smpl_run):
    """BVH (bvhio) and GLB (pygltflib) re-imported: SMPL's joint names, the NPZ's joints put in the run's
    world (turned upright, the root at its planted `transl_world`) within 1 cm: the exported skeleton
    has the track's median shape, the per-frame joints their own."""
    bvhio = pytest.importorskip("bvhio")
    pygltflib = pytest.importorskip("pygltflib")
    from metahmr_video.core.results import load_results
    from metahmr_video.world import WorldFrame

    res = load_results(smpl_run / "clip.npz")
    tid = max(res.tracks, key=lambda t: len(res.tracks[t].frame_ids))
    tr = res.tracks[tid]
    names = res.meta["joint_names"]
    root = bvhio.readAsHierarchy(str(smpl_run / f"clip_track{tid}.bvh"))
    assert sorted(j.Name for j, _, _ in root.layout()) == sorted(names)
    root.loadPose(0)
    heads = {j.Name: np.array(tuple(j.PositionWorld)) for j, _, _ in root.layout()}
    got = np.stack([heads[n] for n in names]) / 100.0  # cm -> m
    world = WorldFrame.from_matrix(np.array(res.meta["camera_to_world"]))
    want = world.points(tr.joints[0]) - world.points(tr.transl[0]) + tr.transl_world[0]
    np.testing.assert_allclose(got, want, atol=1e-2)
    gltf = pygltflib.GLTF2().load(str(smpl_run / f"clip_track{tid}.glb"))
    assert sorted(gltf.nodes[j].name for j in gltf.skins[0].joints) == sorted(names)
    assert gltf.meshes, "the GLB carries the skinned SMPL mesh (model file recorded in the results)"


def test_bad_body_file_and_missing_checkpoint_are_one_line(smpl_file, tmp_path, monkeypatch, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(CLIP.read_bytes())
    bad = tmp_path / "SMPL_NEUTRAL.pkl"
    bad.write_bytes(b"PK\x03\x04 this is not a model")
    assert main(["run", str(clip), "--body", str(bad), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable SMPL/SMPL-X model file" in err[0], err
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # no checkpoint yet, not a terminal, no --yes: the exact train command, exit status 2
    assert main(["run", str(clip), "--body", str(smpl_file), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"metahmr-video train --body {smpl_file.resolve()}" in err[0], err
    # the shipped Anny checkpoint named for an SMPL body
    assert main(["run", str(clip), "--body", str(smpl_file), "--checkpoint", str(ANNY_CHECKPOINT),
                 "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trained for body model anny, not for smpl-" in err[0], err


def test_yes_trains_the_missing_checkpoint_then_runs(smpl_file, smpl_checkpoint, tmp_path, monkeypatch, capsys):
    """--yes: one line saying so, the training (faked here by copying the tiny checkpoint into place),
    then the run itself."""
    import metahmr_trainer.cli

    calls = []

    def fake_train(body_file, out, threads=2, device="cpu"):
        calls.append((Path(body_file), Path(out)))
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_bytes(smpl_checkpoint.read_bytes())
        return 0

    monkeypatch.setattr(metahmr_trainer.cli, "train_for_body", fake_train)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    clip = write_clip_head(tmp_path / "clip.mp4", 2)
    assert main(["run", str(clip), "--body", str(smpl_file), "--yes", "-q", "-o", str(tmp_path / "o")]) == 0
    assert calls == [(smpl_file.resolve(), default_checkpoint(SmplBody(smpl_file)))]
    assert "training it now" in capsys.readouterr().err
    assert (tmp_path / "o" / "clip.npz").is_file()


def test_interactive_prompt_declined_tells_how(smpl_file, tmp_path, monkeypatch, capsys):
    import sys

    import metahmr_trainer.cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    monkeypatch.setattr(metahmr_trainer.cli, "train_for_body", lambda *a, **k: pytest.fail("trained without consent"))
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(CLIP.read_bytes())
    assert main(["run", str(clip), "--body", str(smpl_file), "-o", str(tmp_path / "o")]) == 2
    assert len(asked) == 1 and "no meta-checkpoint for SMPL_NEUTRAL.pkl" in asked[0] and "Train it now? [y/N]" in asked[0]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train it later with: metahmr-video train --body" in err[0], err


def test_evaluate_gives_the_tables_for_smpl(smpl_file, smpl_checkpoint, smpl_prior, tmp_path, capsys):
    assert main(["evaluate", "--body", str(smpl_file), "--checkpoint", str(smpl_checkpoint), "--splits", "synthetic",
                 "--n", "8", "--steps", "2", "--out-dir", str(tmp_path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "synthetic (N=8): PA-MPJPE / MPJPE (mm) at TTO step" in out
    for row in ("| no TTO |", "| EFT |", "| ours (meta) |"):
        assert row in out

"""Trainer: synthetic data conventions, motion prior limits, training lowers L_train, resume."""
from __future__ import annotations

import math

import pytest
import torch

from metahmr_video.model import LossConfig, decode, features, train_loss
from metahmr_video.adapt.steps import body_forward
from metahmr_trainer.data import SyntheticData
from metahmr_trainer.prior import ACTIVITIES, MotionPrior
from metahmr_trainer.train import TrainConfig, Trainer

TINY = {"encoder_width": 32, "encoder_layers": 1, "head_width": 32, "ief_iters": 2}


def test_synthetic_data_conventions(anny_body):
    ev, tg = SyntheticData(anny_body).sample(64, torch.Generator().manual_seed(1))
    assert ev.kp2d.shape == (64, 33, 2) and ev.world.shape == (64, 33, 3) and tg.joints.shape == (64, 31, 3)
    assert torch.isfinite(ev.kp2d).all() and torch.isfinite(ev.world).all()
    assert (tg.transl[:, 2] > 1.5).all()  # in front of the camera
    has = ev.has_world > 0.5
    hip = 0.5 * (ev.world[:, 23] + ev.world[:, 24])
    assert hip[has].abs().max() < 0.2  # hip-centred (up to noise)
    # y down: for most (upright) people the nose is above (smaller y than) the ankles
    up = (ev.world[has, 0, 1] < ev.world[has, 27, 1]).float().mean()
    assert up > 0.7
    # the clean 2D projection matches the camera-frame keypoints
    cam = anny_body(tg.pose, shape=tg.shape, transl=tg.transl, return_vertices=False).keypoints
    proj = ev.focal[:, None, None] * cam[..., :2] / cam[..., 2:] + ev.img_center[:, None]
    assert torch.allclose(proj, tg.kp2d, atol=1e-2)


def test_motion_prior_within_limits_and_plausible(anny_body):
    prior = MotionPrior(anny_body)
    g = torch.Generator().manual_seed(0)
    for act in ACTIVITIES:
        rv = prior.sample(256, g, activity=act)
        assert torch.isfinite(rv).all()
        assert rv.norm(dim=-1).max() < 2 * math.pi
    knee = prior.sample(2048, g)[:, prior.idx["LeftLeg"], 0]
    assert knee.min() >= 0.0 and knee.max() <= 2.5  # knees never bend backwards
    sit = prior.sample(256, g, activity="sit")[:, prior.idx["LeftUpLeg"], 0]
    assert sit.mean() < -1.0  # sitting flexes the hips forward


def _fixed_batch(body, n=16):
    return SyntheticData(body).sample(n, torch.Generator().manual_seed(7))


@pytest.mark.parametrize("mode,extra", [("plain", {}), ("meta", {"dual": True}),
                                        ("meta", {"dual": False, "learned_rates": False}),
                                        ("meta", {"dual": False, "online": 0.5})])
def test_few_steps_lower_train_loss(anny_body, mode, extra, tmp_path):
    cfg = TrainConfig(mode=mode, iterations=1, batch=16, lr=3e-3, lr_aux=3e-3, inner_steps=1, inner_lr=0.1,
                      rates_scope="last", model=TINY, **extra)
    tr = Trainer(cfg, tmp_path / "t.pt", body=anny_body, progress=False)
    ev, tg = _fixed_batch(anny_body)

    def loss():
        with torch.no_grad():
            p = decode(tr.net(features(ev)), ev, anny_body)
            return train_loss(p, body_forward(anny_body, p), ev, tg, LossConfig()).mean().item()
    before = loss()
    for _ in range(8):
        tr.step(ev, tg)
    assert loss() < 0.9 * before


def test_online_meta_training_starts_half_the_batch_from_a_previous_frames_pose_and_shape(anny_body, tmp_path):
    """`online`: those samples' inner steps start from the offsets that steps on the same person a
    moment before reach, in the pose and shape rows only (the camera's restart); the others from
    the meta-parameters (zero offsets)."""
    cfg = TrainConfig(mode="meta", iterations=1, batch=16, inner_steps=1, inner_lr=0.1, rates_scope="last",
                      model=TINY, dual=False, online=0.5)
    tr = Trainer(cfg, tmp_path / "o.pt", body=anny_body, progress=False)
    ev, tg = _fixed_batch(anny_body)
    from metahmr_trainer.train import _rates
    w, b = tr._carried(ev, tg, _rates(tr.net, tr.log_rates, cfg))
    moved = w.flatten(1).abs().amax(-1) > 0
    assert 3 <= int(moved.sum()) <= 13 and not w.requires_grad
    cam = tr.net.dec_cam.weight.shape[0]
    assert float(w[:, -cam:].abs().max()) == 0.0 and float(b[:, -cam:].abs().max()) == 0.0
    assert float(w[moved][:, :-cam].abs().amax(-1).amin()) > 0


def test_resume_continues(anny_body, tmp_path):
    cfg = TrainConfig(mode="meta", iterations=2, batch=4, inner_steps=1, model=TINY, save_every=1,
                      rates_scope="last", cosine=False)
    out = tmp_path / "new_dir" / "m.pt"  # a directory that does not exist yet
    Trainer(cfg, out, body=anny_body, progress=False).run(resume=False)
    tr = Trainer(TrainConfig(**{**cfg.to_dict(), "iterations": 3}), out, body=anny_body, progress=False)
    assert tr.try_resume() and tr.iteration == 2
    ck = tr.run(resume=False)
    assert tr.iteration == 3 and ck.rates is not None and ck.aux is not None
    assert (tmp_path / "new_dir" / "m.log.jsonl").exists()


def test_cli_registers_commands():
    import argparse

    from metahmr_trainer.cli import add_commands
    from metahmr_video.app.cli import TRAINER_COMMANDS
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"), TRAINER_COMMANDS)
    a = parser.parse_args(["train", "--stage", "meta", "--init", "x.pt", "--dual", "--second-order"])
    assert a.dual and a.second_order and callable(a.func)
    e = parser.parse_args(["evaluate", "--n", "10"])
    assert e.n == 10 and callable(e.func)

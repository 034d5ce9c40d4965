"""Regressor, batched TTO and meta-gradients: exactness against loops and finite differences."""
from __future__ import annotations

import copy

import pytest
import torch

from metahmr_video.core.errors import ModelFileError
from metahmr_video.adapt.steps import body_forward, inner_steps, predict_stacked, stack_params
from metahmr_video.model import Checkpoint, LossConfig, ModelConfig, Regressor, decode, features, train_loss
from metahmr_video.model.losses import test_loss as l_test
from metahmr_trainer.data import SyntheticData

TINY = ModelConfig(encoder_width=16, encoder_layers=1, head_width=16, ief_iters=2)


@pytest.fixture(scope="module")
def batch(anny_body):
    return SyntheticData(anny_body).sample(4, torch.Generator().manual_seed(0))


def _tiny(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    net = Regressor(TINY).to(dtype)
    with torch.no_grad():  # larger last layer than the default init, so TTO moves things
        for layer in (net.dec_pose, net.dec_shape, net.dec_cam):
            layer.weight.normal_(0, 0.02)
    return net


@pytest.mark.parametrize("scope", ["all", "last"])
def test_batched_inner_steps_equal_per_sample_loop(anny_body, batch, scope):
    ev, _ = batch
    net = _tiny()
    x = features(ev)
    cfg = LossConfig()
    rates = 0.5 if scope == "all" else {n: torch.full_like(p, 0.5) for n, p in net.named_parameters()
                                         if n.startswith("dec_")}
    stacked = inner_steps(net, anny_body, x, ev, cfg, 2, rates)
    batched = predict_stacked(net, stacked, x)
    for j in range(len(ev)):
        one = inner_steps(net, anny_body, x[j:j + 1], ev.index(slice(j, j + 1)), cfg, 2, rates)
        solo = predict_stacked(net, one, x[j:j + 1])
        assert torch.allclose(batched[j], solo[0], atol=1e-5, rtol=0), (batched[j] - solo[0]).abs().max()
    # and the steps did something
    assert (batched - net(x)).abs().max() > 1e-4


def _reference_tto(net, body, x, ev, cfg, steps, rates):
    """TTO as written before the fast path: each sample alone, its own copy of the module, plain
    forward, Anny's own full forward (mesh skinning), one autograd.grad per step. theta [N, P]."""
    out = []
    for j in range(len(ev)):
        mine = copy.deepcopy(net).requires_grad_(False)
        adapted = {n: p.requires_grad_(True) for n, p in mine.named_parameters() if n in rates}
        evj = ev.index(slice(j, j + 1))
        for _ in range(steps):
            params = decode(mine(x[j:j + 1]), evj, body)
            loss = l_test(params, body(params.pose, params.shape, params.transl), evj, cfg).sum()
            grads = torch.autograd.grad(loss, list(adapted.values()))
            with torch.no_grad():
                for (n, p), g in zip(adapted.items(), grads):
                    p -= rates[n] * g
        with torch.no_grad():
            out.append(mine(x[j:j + 1])[0])
    return torch.stack(out)


def test_fast_last_layer_steps_equal_reference(anny_body):
    """The shipped checkpoint's TTO (last layer, learned rates; trunk once, batched head, skeleton +
    landmark fitting path) equals per-sample TTO through the full model to 1e-5."""
    ckpt = Checkpoint.load(None)
    net, rates = ckpt.meta, ckpt.rates
    ev, _ = SyntheticData(anny_body).sample(3, torch.Generator().manual_seed(7))
    x = features(ev)
    stacked = inner_steps(net, anny_body, x, ev, ckpt.loss_config, 3, rates, guard=True)
    with torch.no_grad():
        fast = predict_stacked(net, stacked, x)
    ref = _reference_tto(net, anny_body, x, ev, ckpt.loss_config, 3, rates)
    assert (fast - ref).abs().max() < 1e-5, (fast - ref).abs().max()
    with torch.no_grad():
        assert (fast - net(x)).abs().max() > 1e-3  # the steps moved the prediction


def _meta_objective(net, body, x, ev, target, alpha, create_graph):
    stacked = inner_steps(net, body, x, ev, LossConfig(), 1, alpha, create_graph=create_graph)
    p = decode(predict_stacked(net, stacked, x), ev, body)
    return train_loss(p, body_forward(body, p), ev, target, LossConfig()).mean(), stacked


@pytest.fixture(scope="module")
def double_setup(anny_body, batch):
    body = anny_body.to(torch.float64)
    ev, tg = batch
    ev = type(ev)(**{k: v.double() for k, v in vars(ev).items()})
    # All 33 landmarks: the fitting path (return_vertices=False) blends the 16 surface landmarks in
    # plain torch, so second-order terms through them exist (the full mesh's warp skinning kernel has
    # a backward that is not itself differentiable: ~2% off finite differences through it; E3).
    tg = type(tg)(*(t.double() for t in (tg.pose, tg.shape, tg.transl, tg.joints, tg.kp2d)))
    yield body, ev, tg
    anny_body.to(torch.float32)


def test_second_order_meta_gradient_matches_finite_differences(double_setup):
    body, ev, tg = double_setup
    net = _tiny(1, torch.float64)
    x = features(ev)
    alpha = 0.3
    loss, _ = _meta_objective(net, body, x, ev, tg, alpha, True)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    gen = torch.Generator().manual_seed(3)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in net.parameters()]
    analytic = sum((g * d).sum() for g, d in zip(grads, v))
    eps = 1e-5

    def at(sign):
        with torch.no_grad():
            for p, d in zip(net.parameters(), v):
                p.add_(sign * eps * d)
        val, _ = _meta_objective(net, body, x, ev, tg, alpha, True)
        with torch.no_grad():
            for p, d in zip(net.parameters(), v):
                p.sub_(sign * eps * d)
        return val.detach()

    fd = (at(1) - at(-1)) / (2 * eps)
    assert torch.allclose(analytic, fd, rtol=1e-6, atol=1e-9), (analytic, fd)


def test_second_order_meta_gradient_through_last_layer_path(double_setup):
    """Meta-SGD as trained (last layer adapted with learned per-weight rates, trunk run once): the
    meta-gradient w.r.t. every weight and every rate matches central finite differences."""
    body, ev, tg = double_setup
    net = _tiny(6, torch.float64)
    x = features(ev)
    gen = torch.Generator().manual_seed(8)
    rates = {n: (0.2 + 0.3 * torch.rand(p.shape, generator=gen, dtype=p.dtype)).requires_grad_()
             for n, p in net.named_parameters() if n.startswith("dec_")}
    leaves = list(net.parameters()) + list(rates.values())

    def objective():
        stacked = inner_steps(net, body, x, ev, LossConfig(), 2, rates, create_graph=True)
        p = decode(predict_stacked(net, stacked, x), ev, body)
        return train_loss(p, body_forward(body, p), ev, tg, LossConfig()).mean()

    grads = torch.autograd.grad(objective(), leaves)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in leaves]
    analytic = sum((g * d).sum() for g, d in zip(grads, v))
    eps = 1e-5

    def at(sign):
        with torch.no_grad():
            for p, d in zip(leaves, v):
                p.add_(sign * eps * d)
        val = objective().detach()
        with torch.no_grad():
            for p, d in zip(leaves, v):
                p.sub_(sign * eps * d)
        return val

    fd = (at(1) - at(-1)) / (2 * eps)
    assert torch.allclose(analytic, fd, rtol=1e-6, atol=1e-9), (analytic, fd)


def test_first_order_differs_by_the_hessian_term(double_setup):
    """g_SO = (I - alpha H_test) g_FO per sample, so g_SO - g_FO = -alpha * sum_j H_j g_FO_j."""
    body, ev, tg = double_setup
    net = _tiny(2, torch.float64)
    x = features(ev)
    alpha = 0.3
    params = list(net.parameters())
    names = [n for n, _ in net.named_parameters()]
    loss_so, _ = _meta_objective(net, body, x, ev, tg, alpha, True)
    g_so = torch.autograd.grad(loss_so, params)
    loss_fo, stacked = _meta_objective(net, body, x, ev, tg, alpha, False)
    g_fo = torch.autograd.grad(loss_fo, params)
    # per-sample outer gradients at the adapted weights
    loss_fo2, stacked2 = _meta_objective(net, body, x, ev, tg, alpha, False)
    per_sample = torch.autograd.grad(loss_fo2, [stacked2[n] for n in names])
    # Hessian of the per-sample test losses at w, applied to the per-sample outer gradients
    st = stack_params(net, len(ev))
    from metahmr_video.model.losses import test_loss
    p = decode(predict_stacked(net, st, x), ev, body)
    lt = test_loss(p, body_forward(body, p), ev, LossConfig()).sum()
    g_t = torch.autograd.grad(lt, [st[n] for n in names], create_graph=True)
    hv = torch.autograd.grad(sum((a * b.detach()).sum() for a, b in zip(g_t, per_sample)), params)
    for a, b, h in zip(g_so, g_fo, hv):
        expected = -alpha * h
        assert torch.allclose(a - b, expected, rtol=1e-5, atol=1e-9), ((a - b - expected).abs().max())
    assert max((a - b).abs().max() for a, b in zip(g_so, g_fo)) > 1e-8  # the term is not trivially zero


def test_checkpoint_round_trip_identical(tmp_path, batch):
    ev, _ = batch
    net, aux = _tiny(4), _tiny(5)
    rates = {n: torch.rand_like(p) for n, p in net.named_parameters() if n.startswith("dec_")}
    ck = Checkpoint(model_config=TINY, loss_config=LossConfig(w_pseudo=0.2), meta=net, aux=aux, plain=net,
                    rates=rates, lr=0.1, eft_lr=0.05, default_steps=3)
    path = tmp_path / "c.pt"
    ck.save(path)
    back = Checkpoint.load(path)
    x = features(ev)
    with torch.no_grad():
        assert torch.equal(back.meta(x), net(x)) and torch.equal(back.aux(x), aux(x))
    assert all(torch.equal(back.rates[k], v) for k, v in rates.items())
    assert (back.lr, back.eft_lr, back.default_steps, back.loss_config.w_pseudo) == (0.1, 0.05, 3, 0.2)
    torch.load(path, weights_only=True)  # plain tensors only


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ModelFileError):
        Checkpoint.load(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError):
        Checkpoint.load(bad)
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError):
        Checkpoint.load(tmp_path / "other.pt")


def test_world_term_ignores_the_world_frame_and_size_and_its_gradient_matches_fd(double_setup):
    import roma

    from metahmr_video.model.losses import loss_world

    body, ev, target = double_setup
    n = len(ev.has_world)
    kp = body(target.pose, shape=target.shape, transl=target.transl, return_vertices=False).keypoints
    torch.manual_seed(3)
    noisy = kp - kp[:, 23:25].mean(1, keepdim=True) + 0.03 * torch.randn_like(kp)  # hip-centred, 3 cm noise
    ev = type(ev)(**{**vars(ev), "world": noisy, "world_vis": torch.full_like(ev.world_vis, 0.9),
                     "has_world": torch.ones(n, dtype=torch.float64)})
    base = loss_world(kp, ev, 0.05)
    assert bool((base > 0).all())
    # the world landmarks in any rotated, shifted, scaled frame: the same loss
    rot = roma.random_rotmat(n).double()
    moved = type(ev)(**{**vars(ev), "world": 1.7 * ev.world @ rot.transpose(-1, -2) + torch.randn(n, 1, 3).double()})
    torch.testing.assert_close(loss_world(kp, moved, 0.05), base, rtol=1e-6, atol=1e-9)
    # the body's own landmarks as world landmarks: zero
    own = kp - kp[:, 23:25].mean(1, keepdim=True)
    assert float(loss_world(kp, type(ev)(**{**vars(ev), "world": own}), 0.05).abs().max()) < 1e-10
    # no world landmarks: zero, and finite
    none = type(ev)(**{**vars(ev), "has_world": torch.zeros(n, dtype=torch.float64)})
    assert torch.equal(loss_world(kp, none, 0.05), torch.zeros(n, dtype=torch.float64))
    # gradient: the alignment is held constant (its own derivative vanishes at the least-squares
    # optimum; the robust weights make that approximate), so the analytic gradient matches central
    # differences of the whole loss within 30 %
    x = kp.detach().clone().requires_grad_(True)
    g, = torch.autograd.grad(loss_world(x, ev, 0.05).sum(), x)
    eps = 1e-6
    for b, j, c in [(0, 13, 1), (2, 25, 0), (3, 11, 2)]:
        d = torch.zeros_like(kp)
        d[b, j, c] = eps
        fd = (loss_world(kp.detach() + d, ev, 0.05) - loss_world(kp.detach() - d, ev, 0.05))[b] / (2 * eps)
        assert abs(float(fd) - float(g[b, j, c])) <= 0.3 * abs(float(fd)) + 1e-6


def test_rotation_onto_matches_roma_registration():
    import roma

    from metahmr_video.model.losses import rotation_onto

    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, 22, 3, generator=g, dtype=torch.float64)
    w = torch.rand(8, 22, generator=g, dtype=torch.float64)
    rot = roma.random_rotmat(8).double()
    b = a @ rot.transpose(-1, -2) + 0.05 * torch.randn(8, 22, 3, generator=g, dtype=torch.float64)
    a, b = a - (w[..., None] * a).sum(1, keepdim=True) / w.sum(1)[:, None, None], b - (w[..., None] * b).sum(1, keepdim=True) / w.sum(1)[:, None, None]
    expect, _ = roma.rigid_points_registration(a, b, weights=w)
    got = rotation_onto(a, b, w)
    torch.testing.assert_close(got, expect, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(torch.det(got), torch.ones(8, dtype=torch.float64))
    # a reflection is never returned: mirrored points get the best proper rotation
    assert bool((torch.det(rotation_onto(a, b * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64), w)) > 0).all())

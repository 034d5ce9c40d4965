"""Batched per-sample test-time optimisation of the regressor's weights (the inner loop).

Every sample j gets its own copy of the adapted weights, stacked along a leading batch axis. The
network runs under `torch.func.vmap(functional_call)`; the body model runs ONCE on the whole batch
(Anny's in-place ops do not vmap); the gradient of the SUM of per-sample losses with respect to the
stacked weights is, slice by slice, each sample's own gradient (sample j's loss depends only on its
own copy). So one call adapts N people exactly as N separate loops would, in one computation.

Step sizes: a float (the paper's fixed inner lr; all weights adapted) or a dict of per-parameter
rates (Meta-SGD), each tensor shaped like its parameter; then only the parameters named in the dict
are adapted (the others are shared and fixed).

When only the regressor's last layer adapts (the shipped checkpoint), the trunk runs once per call
and each step runs just the IEF head with per-sample last-layer weights as batched matrix products
(`Regressor.head`), without vmap: the same function, hence the same gradients, in far fewer
operations.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

from metahmr_video.model.features import BodyParams, Evidence, decode
from metahmr_video.model.losses import LossConfig, test_loss
from metahmr_video.model.regressor import LAST_LAYER, Regressor


def stack_params(model: nn.Module, batch: int, names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Per-sample copies (expanded views, still connected to the parameters) [batch, *shape]."""
    params = dict(model.named_parameters())
    names = list(params) if names is None else names
    out = {}
    for n in names:
        t = params[n].unsqueeze(0).expand(batch, *params[n].shape)
        out[n] = t if t.requires_grad else t.detach().requires_grad_(True)  # frozen net (test time)
    return out


def predict_stacked(model: nn.Module, stacked: dict[str, torch.Tensor], x: torch.Tensor,
                    feat: torch.Tensor | None = None) -> torch.Tensor:
    """theta [B, P] from per-sample weights `stacked` ([B, ...] each) and inputs x [B, D].
    Parameters not in `stacked` are shared. feat: the trunk's output for x when only the last
    layer is stacked (computed here when None)."""
    if last_layer_only(model, stacked):
        return model.head(model.trunk(x) if feat is None else feat, stacked)
    shared = {n: p for n, p in model.named_parameters() if n not in stacked}
    shared.update(dict(model.named_buffers()))

    def one(p, xi):
        return functional_call(model, (p, shared), (xi.unsqueeze(0),)).squeeze(0)

    return vmap(one)(stacked, x)


def last_layer_only(model: nn.Module, stacked: dict[str, torch.Tensor]) -> bool:
    """True when `stacked` adapts nothing but the regressor's last layer (the fast path)."""
    return isinstance(model, Regressor) and bool(stacked) and set(stacked) <= set(LAST_LAYER)


def body_forward(body, params: BodyParams):
    return body(params.pose, shape=params.shape, transl=params.transl, return_vertices=False)


def inner_steps(model: nn.Module, body, x: torch.Tensor, ev: Evidence, loss_cfg: LossConfig,
                steps: int, rates: float | dict[str, torch.Tensor], pseudo: BodyParams | None = None,
                stacked: dict[str, torch.Tensor] | None = None, create_graph: bool = False,
                guard: bool = False, callback: Callable | None = None) -> dict[str, torch.Tensor]:
    """Run `steps` per-sample gradient steps on L_test; return the adapted stacked weights.

    create_graph=True keeps the graph through the steps (second-order meta-gradients); False
    treats each step's gradient as a constant (first order, and test time).
    guard=True zeroes the step of any sample whose loss or gradient is not finite (others are
    unaffected). callback(step, theta, loss) is called before every step and after the last.
    """
    nb, ns = body.num_bones, body.num_shape
    if stacked is None:  # rates given per parameter: only those parameters are adapted
        stacked = stack_params(model, x.shape[0], list(rates) if isinstance(rates, dict) else None)
    names = list(stacked)
    feat = model.trunk(x) if last_layer_only(model, stacked) else None
    for s in range(steps + 1):
        if s == steps and callback is None:
            break  # the adapted weights are the result; their prediction is the caller's
        theta = predict_stacked(model, stacked, x, feat)
        params = decode(theta, ev, nb, ns)
        out = body_forward(body, params)
        loss = test_loss(params, out, ev, loss_cfg, pseudo)
        if callback is not None:
            callback(s, theta, loss)
        if s == steps:
            break
        finite = torch.isfinite(loss) if guard else None
        total = torch.where(finite, loss, torch.zeros_like(loss)).sum() if guard else loss.sum()
        grads = torch.autograd.grad(total, [stacked[n] for n in names], create_graph=create_graph, retain_graph=True,
                                    allow_unused=True)
        grads = {n: g if create_graph else g.detach() for n, g in zip(names, grads) if g is not None}
        if guard:
            for g in grads.values():
                finite = finite & torch.isfinite(g).flatten(1).all(-1)
            if not bool(finite.all()):  # rare: zero those samples' steps, keep the others'
                grads = {n: torch.where(finite.reshape(-1, *([1] * (g.dim() - 1))), torch.nan_to_num(g),
                                        torch.zeros_like(g)) for n, g in grads.items()}
        stacked = {n: stacked[n] - (rates[n] if isinstance(rates, dict) else rates) * grads[n] if n in grads
                   else stacked[n] for n in names}
    return stacked

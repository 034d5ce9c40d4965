"""Batched per-sample test-time optimisation of the regressor's weights (the inner loop).

Every sample j gets its own copy of the adapted weights, stacked along a leading batch axis. The
network runs under `torch.func.vmap(functional_call)`; the body model runs ONCE on the whole batch
(Anny's in-place ops do not vmap); the gradient of the SUM of per-sample losses with respect to the
stacked weights is, slice by slice, each sample's own gradient (sample j's loss depends only on its
own copy). So one call adapts N people exactly as N separate loops would, in one computation.

Step sizes: a float (the paper's fixed inner lr; all weights adapted) or a dict of per-parameter
rates (Meta-SGD), each tensor shaped like its parameter; then only the parameters named in the dict
are adapted (the others are shared and fixed).

When only the regressor's last layer adapts (the shipped checkpoint), the trunk runs once per call,
each step runs just the IEF head (`Regressor.head`), and the per-person last layers stay factored
(`FactoredLastLayer`): a step's gradient of a linear layer is a sum of outer products g h^T (one
per IEF iteration), so the adapted layer is the shared one minus rates times those products and
applying it needs one shared matrix product and a low-rank term, never a per-person matrix. The
same function, hence the same gradients, without vmap and with far fewer and smaller operations.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from metahmr_video.model.features import BodyParams, Evidence, decode
from metahmr_video.model.losses import LossConfig, test_loss
from metahmr_video.model.regressor import LAST_LAYER, LAST_LAYER_MODULES, Regressor


def stack_params(model: nn.Module, batch: int, names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Per-sample copies (expanded views, still connected to the parameters) [batch, *shape]."""
    params = dict(model.named_parameters())
    names = list(params) if names is None else names
    out = {}
    for n in names:
        t = params[n].unsqueeze(0).expand(batch, *params[n].shape)
        out[n] = t if t.requires_grad else t.detach().requires_grad_(True)  # frozen net (test time)
    return out


def predict_stacked(model: nn.Module, stacked: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """theta [B, P] from per-sample weights `stacked` ([B, ...] each) and inputs x [B, D].
    Parameters not in `stacked` are shared."""
    if last_layer_only(model, stacked):
        weight, bias = _per_sample_last_layer(model, stacked, x.shape[0])
        return model.head(model.trunk(x), lambda h: torch.baddbmm(bias[..., None], weight, h[..., None])[..., 0])
    shared = {n: p for n, p in model.named_parameters() if n not in stacked}
    shared.update(dict(model.named_buffers()))

    def one(p, xi):
        return functional_call(model, (p, shared), (xi.unsqueeze(0),)).squeeze(0)

    return vmap(one)(stacked, x)


def last_layer_only(model: nn.Module, stacked: dict[str, torch.Tensor]) -> bool:
    """True when `stacked` adapts nothing but the regressor's last layer (the fast path)."""
    return isinstance(model, Regressor) and bool(stacked) and set(stacked) <= set(LAST_LAYER)


def _per_sample_last_layer(model: Regressor, stacked: dict[str, torch.Tensor], batch: int
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The last layer's weight [B, P, H] and bias [B, P] from `stacked` (module's own elsewhere)."""
    parts = []
    for suffix in ("weight", "bias"):
        own = [getattr(getattr(model, m), suffix) for m in LAST_LAYER_MODULES]
        parts.append(torch.cat([stacked.get(f"{m}.{suffix}", t.expand(batch, *t.shape))
                                for m, t in zip(LAST_LAYER_MODULES, own)], dim=1))
    return parts[0], parts[1]


class FactoredLastLayer:
    """Per-sample adapted copies of a regressor's last layer (weight W [P, H], bias b [P]), kept
    factored: sample j's layer is W + D_j - R * sum_m g_jm h_jm^T and b + d_j - r * sum_m g_jm, where
    R, r are the per-weight step sizes, (g_jm, h_jm) the gradient at the layer's output and its input
    at each use in sample j's earlier steps (dL/dW for a use is g h^T), and (D_j, d_j) an optional
    starting offset (`start`: weight [B, P, H], bias [B, P]; e.g. sample j's adaptation carried from
    an earlier frame; None: zero). Called as the regressor head's last layer (h [B, H] -> [B, P]), it
    records its inputs and outputs for `step`.
    """

    def __init__(self, model: Regressor, rates: dict[str, torch.Tensor], batch: int,
                 start: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.model, self.names, self.batch = model, [n for n in LAST_LAYER if n in rates], batch
        self.start = start
        self.weight, self.bias = model.last_layer()
        rw = [rates.get(f"{m}.weight", torch.zeros_like(getattr(model, m).weight)) for m in LAST_LAYER_MODULES]
        rb = [rates.get(f"{m}.bias", torch.zeros_like(getattr(model, m).bias)) for m in LAST_LAYER_MODULES]
        self.rate_weight, self.rate_bias = torch.cat(rw), torch.cat(rb)
        self.g: list[torch.Tensor] = []   # [B, P] each
        self.h: list[torch.Tensor] = []   # [B, H] each
        self.bias_grad = torch.zeros(batch, self.weight.shape[0], dtype=self.weight.dtype, device=self.weight.device)
        self._factors = None
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        if not self.g:
            out = F.linear(h, self.weight, self.bias)
        else:
            if self._factors is None:  # [B, M, P], [B, M, H], the biases [B, P]
                self._factors = torch.stack(self.g, 1), torch.stack(self.h, 1), self.bias - self.rate_bias * self.bias_grad
            g, hs, bias = self._factors
            out = torch.addmm(bias, h, self.weight.T) - ((hs * h[:, None]) @ self.rate_weight.T * g).sum(1)
        if self.start is not None:
            out = out + torch.baddbmm(self.start[1][:, :, None], self.start[0], h[:, :, None])[..., 0]
        if not out.requires_grad:  # frozen network (test time): the step differentiates from here
            out.requires_grad_(True)
        self.inputs.append(h)
        self.outputs.append(out)
        return out

    def step(self, total: torch.Tensor, create_graph: bool, ok: torch.Tensor | None = None) -> torch.Tensor | None:
        """One gradient step of every sample on `total` (the sum of the per-sample losses of the
        last forward). ok [B] bool: samples allowed to step (None: all); returns the samples whose
        gradient was finite when `ok` is given (their step is taken, the others' zeroed)."""
        grads = torch.autograd.grad(total, self.outputs, create_graph=create_graph, retain_graph=True)
        if not create_graph:
            grads = [g.detach() for g in grads]
        if ok is not None:
            for g in grads:
                ok = ok & torch.isfinite(g).all(-1)
            if not bool(ok.all()):
                grads = [torch.where(ok[:, None], torch.nan_to_num(g), torch.zeros_like(g)) for g in grads]
        inputs = self.inputs if create_graph else [h.detach() for h in self.inputs]
        self.g += grads
        self.h += inputs
        self.bias_grad = self.bias_grad + sum(grads)
        self._factors, self.inputs, self.outputs = None, [], []
        return ok

    def offset(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's layer minus the shared one, after the steps so far: (weight [B, P, H],
        bias [B, P]), the starting offset included (what `start` takes to continue from here)."""
        weight = self.start[0] if self.start is not None else self.weight.new_zeros(self.batch, *self.weight.shape)
        if self.g:
            grads = torch.stack(self.g, 1).transpose(1, 2) @ torch.stack(self.h, 1)
            weight = torch.addcmul(weight, self.rate_weight, grads, value=-1.0)
        bias = -self.rate_bias * self.bias_grad
        return weight, bias if self.start is None else bias + self.start[1]

    def stacked(self) -> dict[str, torch.Tensor]:
        """The adapted weights as per-sample tensors ([B, *shape]) by parameter name."""
        self.inputs, self.outputs = [], []
        delta_weight, delta_bias = self.offset()
        weight, bias = self.weight + delta_weight, self.bias + delta_bias
        out, row = {}, 0
        for m in LAST_LAYER_MODULES:
            rows = getattr(self.model, m).weight.shape[0]
            for name, t in ((f"{m}.weight", weight[:, row:row + rows]), (f"{m}.bias", bias[:, row:row + rows])):
                if name in self.names:
                    out[name] = t
            row += rows
        return out


def pose_shape_rows(model: Regressor) -> torch.Tensor:
    """[P] float: 1 for the rows of the last layer that predict pose and shape, 0 for the camera's
    (what a person's adaptation carries to their next frame; where they stand is estimated afresh)."""
    return torch.cat([torch.full((getattr(model, m).weight.shape[0],), 0.0 if m == "dec_cam" else 1.0)
                      for m in LAST_LAYER_MODULES]).to(model.dec_cam.weight)


def body_forward(body, params: BodyParams):
    return body(params.pose, shape=params.shape, transl=params.transl, return_vertices=False)


def _total(loss: torch.Tensor, guard: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The sum of per-sample losses [B] to differentiate and, with `guard`, the finite mask [B]
    (non-finite samples then count 0)."""
    if not guard:
        return loss.sum(), None
    finite = torch.isfinite(loss)
    return torch.where(finite, loss, torch.zeros_like(loss)).sum(), finite


def inner_steps(model: nn.Module, body, x: torch.Tensor, ev: Evidence, loss_cfg: LossConfig,
                steps: int, rates: float | dict[str, torch.Tensor], pseudo: BodyParams | None = None,
                stacked: dict[str, torch.Tensor] | None = None, create_graph: bool = False,
                guard: bool = False, callback: Callable | None = None,
                weights: bool = True, start: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> dict[str, torch.Tensor] | None:
    """Run `steps` per-sample gradient steps on L_test; return the adapted stacked weights (None
    with weights=False: a caller that reads the iterates through `callback` skips assembling them).

    create_graph=True keeps the graph through the steps (second-order meta-gradients); False
    treats each step's gradient as a constant (first order, and test time).
    guard=True zeroes the step of any sample whose loss or gradient is not finite (others are
    unaffected). callback(step, theta, loss) is called before every step and after the last.
    start: per-sample offsets of the last layer to start from (`FactoredLastLayer`; only when
    only the last layer adapts).
    """
    if stacked is None and isinstance(rates, dict) and isinstance(model, Regressor) and set(rates) <= set(LAST_LAYER):
        last = last_layer_steps(model, body, x, ev, loss_cfg, steps, rates, pseudo, create_graph, guard, callback,
                                start)
        return last.stacked() if weights else None
    if start is not None:
        raise ValueError("a starting offset needs adaptation of the last layer only")
    if stacked is None:  # rates given per parameter: only those parameters are adapted
        stacked = stack_params(model, x.shape[0], list(rates) if isinstance(rates, dict) else None)
    names = list(stacked)
    for s in range(steps + 1):
        if s == steps and callback is None:
            break  # the adapted weights are the result; their prediction is the caller's
        theta = predict_stacked(model, stacked, x)
        params = decode(theta, ev, body)
        out = body_forward(body, params)
        loss = test_loss(params, out, ev, loss_cfg, pseudo)
        if callback is not None:
            callback(s, theta, loss)
        if s == steps:
            break
        total, finite = _total(loss, guard)
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
    return stacked if weights else None


def last_layer_steps(model: Regressor, body, x: torch.Tensor, ev: Evidence, loss_cfg: LossConfig, steps: int,
                     rates: dict[str, torch.Tensor], pseudo: BodyParams | None = None, create_graph: bool = False,
                     guard: bool = False, callback: Callable | None = None,
                     start: tuple[torch.Tensor, torch.Tensor] | None = None) -> FactoredLastLayer:
    """`inner_steps` when only the last layer adapts (`last_layer_only`): trunk once, factored
    per-sample layers, each starting from the shared layer plus its `start` offset (see
    `FactoredLastLayer`); returns the adapted layers."""
    feat = model.trunk(x)
    last = FactoredLastLayer(model, rates, x.shape[0], start)
    for s in range(steps + 1):
        if s == steps and callback is None:
            break
        theta = model.head(feat, last)
        params = decode(theta, ev, body)
        loss = test_loss(params, body_forward(body, params), ev, loss_cfg, pseudo)
        if callback is not None:
            callback(s, theta, loss)
        if s == steps:
            break
        total, finite = _total(loss, guard)
        last.step(total, create_graph, finite)
    return last

"""The plain supervised trainer and the dual-network meta-trainer (Algorithm 1 of Meta-HMR).

Per meta-training iteration, on a fresh synthetic batch of M people:
 1. f_u (auxiliary, dual network) predicts pseudo targets; it is updated on L_train with ground
    truth in the same iteration (Adam, its own lr).
 2. Inner loop: every sample's own copy of f_w's weights takes `inner_steps` gradient steps on
    L_test (2D + pseudo targets), for the whole batch at once (see metahmr_video.adapt.steps). Step
    sizes: the paper's fixed inner lr, or learned per-parameter rates (Meta-SGD, `learned_rates`).
 3. Outer step on w (and the rates): mean L_train through the adapted weights (+ w_step0 times
    L_train at step 0, which keeps the un-adapted prediction good). second_order=True
    differentiates through the inner steps; False treats dw'/dw = I (first order).
Data are generated on the fly (no sample is ever seen twice). Resumable from `<out>.state.pt`.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm import tqdm

from metahmr_video.body import AnnyBody
from metahmr_video.model.checkpoint import Checkpoint, check_body
from metahmr_video.model.features import decode, features
from metahmr_video.model.losses import LossConfig, train_loss
from metahmr_video.model.regressor import ModelConfig, Regressor
from metahmr_video.adapt.steps import body_forward, inner_steps, last_layer_steps, pose_shape_rows
from metahmr_video.core.rotations import axis_angle_to_rotmat
from metahmr_trainer.data import NoiseConfig, evidence_from_body
from metahmr_trainer.rendered import data_source

log = logging.getLogger("metahmr_video.trainer")
LAST_LAYER = ("dec_pose.", "dec_shape.", "dec_cam.")


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in the checkpoint's info)."""

    mode: str = "meta"                # "plain" | "meta"
    iterations: int = 1000
    batch: int = 32
    lr: float = 3e-4                  # outer (or plain) Adam lr
    lr_aux: float = 3e-4
    lr_rates: float = 3e-3            # Adam lr on the log-rates (Meta-SGD)
    rates_clamp: float = 4.0          # log-rates stay within log(inner_lr) +- this
    inner_steps: int = 3
    inner_lr: float = 1e-4            # fixed inner lr, and the rates' initial value
    learned_rates: bool = True
    rates_scope: str = "all"          # "all" | "last": which parameters get learned rates
    second_order: bool = False
    dual: bool = True
    w_pseudo: float = 0.1             # L_test weight of f_u's pseudo targets (dual only)
    w_world: float = 0.0              # L_test weight of the detector's world landmarks (aligned, robust)
    w_step0: float = 1.0
    default_steps: int = 5
    eft_lr: float = 1e-4
    init: str | None = None           # a plain checkpoint to start from (meta mode)
    seed: int = 0
    threads: int = 1
    save_every: int = 200
    cosine: bool = True               # cosine decay of all lrs to 5% over the run
    model: dict = field(default_factory=dict)
    data: str = "synthetic"           # "synthetic" | "rendered:DIR" (see metahmr_trainer.rendered.data_source)
    rendered_fraction: float = 0.5    # share of each batch from the rendered shards
    rendered_mirror: bool = False     # add the rendered samples' mirror images
    truncated: float = 0.0            # share of generated people cut off by the frame (metahmr_trainer.data)
    online: float = 0.0               # share of samples whose steps start from a previous frame's adaptation
    online_steps: int = 3             # steps of that previous frame (from the meta-parameters)

    def to_dict(self) -> dict:
        return asdict(self)


def _log_rates_init(net: Regressor, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    return {n: torch.full_like(p, math.log(cfg.inner_lr)).requires_grad_(True)
            for n, p in net.named_parameters() if cfg.rates_scope == "all" or n.startswith(LAST_LAYER)}


def _rates(net: Regressor, log_rates: dict[str, torch.Tensor] | None, cfg: TrainConfig):
    """A float (fixed lr, all weights adapted) or {name: rate tensor} for the adapted weights only
    (rates_scope "last": the hidden layers' rates are zero, i.e. they are not adapted)."""
    if log_rates is None:
        if cfg.rates_scope == "last":
            return {n: torch.full_like(p, cfg.inner_lr) for n, p in net.named_parameters() if n.startswith(LAST_LAYER)}
        return cfg.inner_lr
    return {n: log_rates[n].exp() for n, p in net.named_parameters() if n in log_rates}


class Trainer:
    """Runs one TrainConfig; `run()` trains and writes the checkpoint `out`."""

    def __init__(self, cfg: TrainConfig, out: str | Path, device: str = "cpu", body=None,
                 progress: bool = True) -> None:
        """body: the body model to train for (AnnyBody, SmplBody; None: Anny)."""
        self.cfg, self.out, self.device, self.progress = cfg, Path(out), torch.device(device), progress
        torch.manual_seed(cfg.seed)
        self.body = (body if body is not None else AnnyBody()).to(self.device)
        self.data = data_source(cfg.data, self.body, cfg.rendered_fraction, cfg.rendered_mirror, cfg.truncated)
        self.loss_cfg = LossConfig(w_pseudo=cfg.w_pseudo if cfg.dual else 0.0, w_world=cfg.w_world, shape_center=self.body.shape_center,
                                   shape_scale=self.body.shape_scale)
        self.plain = None
        if cfg.init:
            init = Checkpoint.load(cfg.init, self.device)
            check_body(init, self.body)
            self.model_cfg = init.model_config
            self.net = init.meta
            self.plain = init.plain if init.plain is not None else init.meta
            self.aux = Regressor(self.model_cfg).to(self.device)
            self.aux.load_state_dict(self.net.state_dict())
            self.net.train().requires_grad_(True)
        else:
            self.model_cfg = ModelConfig(**{"num_bones": self.body.num_bones, "num_shape": self.body.num_shape,
                                            **cfg.model})
            self.net = Regressor(self.model_cfg).to(self.device)
            self.aux = Regressor(self.model_cfg).to(self.device) if cfg.mode == "meta" else None
        self.log_rates = _log_rates_init(self.net, cfg) if cfg.mode == "meta" and cfg.learned_rates else None
        if self.log_rates and cfg.init and init.rates:  # fine-tuning a meta checkpoint keeps its step sizes
            with torch.no_grad():
                for k, v in self.log_rates.items():
                    if k in init.rates:
                        v.copy_(init.rates[k].to(v).log())
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.opt_aux = torch.optim.Adam(self.aux.parameters(), lr=cfg.lr_aux) if self.aux is not None and cfg.dual else None
        self.opt_rates = torch.optim.Adam(self.log_rates.values(), lr=cfg.lr_rates) if self.log_rates else None
        self.iteration = 0
        self.history: list[dict] = []
        self.state_path = self.out.with_suffix(".state.pt")
        self.log_path = self.out.with_suffix(".log.jsonl")

    # -- persistence --------------------------------------------------------------------------
    def save_state(self) -> None:
        st = {"iteration": self.iteration, "net": self.net.state_dict(), "opt": self.opt.state_dict(),
              "aux": None if self.aux is None else self.aux.state_dict(),
              "opt_aux": None if self.opt_aux is None else self.opt_aux.state_dict(),
              "log_rates": None if self.log_rates is None else {k: v.detach() for k, v in self.log_rates.items()},
              "opt_rates": None if self.opt_rates is None else self.opt_rates.state_dict(),
              "plain": None if self.plain is None else self.plain.state_dict(),
              "config": self.cfg.to_dict()}
        self.out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(st, self.state_path.with_suffix(".tmp"))
        self.state_path.with_suffix(".tmp").replace(self.state_path)

    def try_resume(self) -> bool:
        if not self.state_path.is_file():
            return False
        st = torch.load(self.state_path, map_location=self.device, weights_only=True)
        self.net.load_state_dict(st["net"])
        self.opt.load_state_dict(st["opt"])
        if self.aux is not None and st["aux"] is not None:
            self.aux.load_state_dict(st["aux"])
        if self.opt_aux is not None and st["opt_aux"] is not None:
            self.opt_aux.load_state_dict(st["opt_aux"])
        if self.log_rates is not None and st["log_rates"] is not None:
            with torch.no_grad():
                for k, v in st["log_rates"].items():
                    self.log_rates[k].copy_(v)
            self.opt_rates.load_state_dict(st["opt_rates"])
        self.iteration = st["iteration"]
        log.info("resumed %s at iteration %d", self.state_path, self.iteration)
        return True

    def checkpoint(self) -> Checkpoint:
        cfg = self.cfg
        rates = None
        if cfg.mode == "meta":
            r = _rates(self.net, self.log_rates, cfg)
            rates = {k: v.detach().clone() for k, v in r.items()} if isinstance(r, dict) else None
        return Checkpoint(model_config=self.model_cfg, loss_config=self.loss_cfg, meta=self.net,
                          aux=self.aux if (cfg.mode == "meta" and cfg.dual) else None,
                          plain=self.plain if cfg.mode == "meta" else self.net, rates=rates,
                          lr=cfg.inner_lr, eft_lr=cfg.eft_lr, default_steps=cfg.default_steps, body=self.body.model_id,
                          info={"train": cfg.to_dict(), "iterations": self.iteration,
                                "last": self.history[-1] if self.history else {},
                                **({"body_file": self.body.model_path.name} if self.body.model_path is not None else {})})

    # -- one iteration ------------------------------------------------------------------------
    def step(self, ev, target) -> dict:
        cfg, body = self.cfg, self.body
        x = features(ev)
        if cfg.mode == "plain":
            params = decode(self.net(x), ev, body)
            loss = train_loss(params, body_forward(body, params), ev, target, self.loss_cfg).mean()
            self.opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
            self.opt.step()
            return {"L_train": loss.item()}
        stats = {}
        pseudo = None
        if cfg.dual:
            pu = decode(self.aux(x), ev, body)
            lu = train_loss(pu, body_forward(body, pu), ev, target, self.loss_cfg).mean()
            self.opt_aux.zero_grad()
            lu.backward()
            torch.nn.utils.clip_grad_norm_(self.aux.parameters(), 1.0)
            self.opt_aux.step()
            pseudo = BodyParamsDetached(pu)
            stats["L_aux"] = lu.item()
        rates = _rates(self.net, self.log_rates, cfg)
        theta0 = {}

        def grab(s, th, lt):
            if s == 0:
                theta0["theta"], theta0["L_test"] = th, lt
        start = self._carried(ev, target, rates) if cfg.online > 0 else None
        stacked = inner_steps(self.net, body, x, ev, self.loss_cfg, cfg.inner_steps, rates, pseudo=pseudo,
                              create_graph=cfg.second_order, callback=grab, start=start)
        from metahmr_video.adapt.steps import predict_stacked
        pk = decode(predict_stacked(self.net, stacked, x), ev, body)
        lk = train_loss(pk, body_forward(body, pk), ev, target, self.loss_cfg).mean()
        p0 = decode(theta0["theta"], ev, body)
        l0 = train_loss(p0, body_forward(body, p0), ev, target, self.loss_cfg).mean()
        loss = lk + cfg.w_step0 * l0
        self.opt.zero_grad()
        if self.opt_rates:
            self.opt_rates.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        if self.opt_rates:
            self.opt_rates.step()
            with torch.no_grad():  # keep rates within a sane window
                for v in self.log_rates.values():
                    v.clamp_(math.log(cfg.inner_lr) - cfg.rates_clamp, math.log(cfg.inner_lr) + cfg.rates_clamp)
        stats.update({"L_train_step0": l0.item(), f"L_train_step{cfg.inner_steps}": lk.item(),
                      "L_test_step0": theta0["L_test"].mean().item()})
        return stats

    def _carried(self, ev, target, rates) -> tuple[torch.Tensor, torch.Tensor]:
        """Online meta-training: for a share `online` of the batch, the offsets of the last layer
        (pose and shape rows, as `Fitter.next_carry` keeps them) that `online_steps` steps from the
        meta-parameters reach on the same person a moment before (every bone turned by ~3 degrees,
        the same camera, fresh detector noise); zeros for the others. No gradient flows into them."""
        cfg, body = self.cfg, self.body
        g = torch.Generator().manual_seed(cfg.seed * 7919 + self.iteration)
        n = len(ev)
        with torch.no_grad():
            turn = axis_angle_to_rotmat(0.05 * torch.randn(n, body.num_bones, 3, generator=g)).to(self.device)
            out = body(target.pose @ turn, shape=target.shape, transl=target.transl, return_vertices=False)
            prev, _ = evidence_from_body(g, out.joints.cpu(), out.keypoints.cpu(), ev.focal.cpu(), 2 * ev.img_center.cpu(),
                                         getattr(self.data, "noise", NoiseConfig()), body.keypoint_mask.cpu())
            prev = prev.to(self.device)
        last = last_layer_steps(self.net, body, features(prev), prev, self.loss_cfg, cfg.online_steps,
                                {k: v.detach() for k, v in rates.items()}, guard=True)
        keep = (torch.rand(n, generator=g) < cfg.online).float().to(self.device)[:, None] * pose_shape_rows(self.net)
        w, b = last.offset()
        return (keep[..., None] * w).detach(), (keep * b).detach()

    def run(self, resume: bool = True, time_limit: float | None = None) -> Checkpoint:
        cfg = self.cfg
        torch.set_num_threads(cfg.threads)
        if resume:
            self.try_resume()
        start = time.time()
        bar = tqdm(total=cfg.iterations, initial=self.iteration, desc=f"train[{cfg.mode}]",
                   disable=not self.progress, mininterval=5.0)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as logf:
            while self.iteration < cfg.iterations:
                g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.iteration)
                ev, target = self.data.sample(cfg.batch, g)
                ev, target = ev.to(self.device), type(target)(*(t.to(self.device) for t in (
                    target.pose, target.shape, target.transl, target.joints, target.kp2d)))
                frac = self.iteration / max(1, cfg.iterations)
                decay = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)) if cfg.cosine else 1.0
                for opt, base in ((self.opt, cfg.lr), (self.opt_aux, cfg.lr_aux), (self.opt_rates, cfg.lr_rates)):
                    if opt is not None:
                        for group in opt.param_groups:
                            group["lr"] = base * decay
                stats = self.step(ev, target)
                self.iteration += 1
                stats["it"] = self.iteration
                self.history.append(stats)
                bar.update(1)
                if self.iteration % 20 == 0:
                    recent = self.history[-20:]
                    avg = {k: sum(h[k] for h in recent) / len(recent) for k in stats if k != "it"}
                    avg["it"], avg["t"] = self.iteration, round(time.time() - start, 1)
                    logf.write(json.dumps(avg) + "\n")
                    logf.flush()
                    bar.set_postfix({k: f"{v:.4f}" for k, v in avg.items() if k.startswith("L_")})
                if self.iteration % cfg.save_every == 0 or self.iteration == cfg.iterations:
                    self.save_state()
                    self.checkpoint().save(self.out)
                if time_limit is not None and time.time() - start > time_limit:
                    log.warning("time limit reached at iteration %d", self.iteration)
                    self.save_state()
                    break
        bar.close()
        ck = self.checkpoint()
        ck.save(self.out)
        return ck


class BodyParamsDetached:
    """Pseudo targets: f_u's decoded prediction with the graph cut (stop-gradient)."""

    def __init__(self, p) -> None:
        self.pose, self.shape = p.pose.detach(), p.shape.detach()
        self.transl, self.crop_cam = p.transl.detach(), p.crop_cam.detach()

"""One checkpoint file = the meta-trained regressor f_w, the auxiliary f_u (dual network, may be
absent for single-network meta), the plain regressor (EFT baseline's start, optional), the
test-time step sizes (learned per-parameter rates or a fixed lr), configs and the body model it was
trained for (`body`: the body's `model_id`, "anny" or e.g. "smpl-<first 16 hex digits of the model
file's SHA-256>"; `info["body_file"]`: that file's name).

A checkpoint serves only its own body model. Anny's ships with the package; the one for a user's
SMPL/SMPL-X file lives in the cache, `default_checkpoint(body)`, written by
`metahmr-video train --body FILE`.

Saved with `torch.save` as plain tensors/dicts/numbers/strings only, so it loads with
`torch.load(weights_only=True)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from metahmr_video.core.errors import ModelFileError
from metahmr_video.core.paths import cache_dir
from metahmr_video.model.losses import LossConfig
from metahmr_video.model.regressor import ModelConfig, Regressor

FORMAT = "metahmr-video-checkpoint/1"
SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "anny_meta.pt"
# `train --body` with the shipped recipe on the test-built SMPL file (docs/experiments.md E21): 681 s of
# CPU on one thread; 37.6 minutes of wall time on a 2-core machine shared with other jobs (load 7-10).
TRAIN_TIME = "12-40 minutes on 2 CPU cores"


class MissingCheckpointError(ModelFileError):
    """No checkpoint has been trained yet for this body model file."""


def default_checkpoint(body=None) -> Path:
    """The checkpoint used for `body` when none is named: the shipped one for a body that ships with
    us (Anny, or None), else for the user's model file <cache>/checkpoints/<body.model_id>.pt (see
    `metahmr_video.core.paths.cache_dir`)."""
    if body is None or body.model_path is None:
        return SHIPPED
    return cache_dir("checkpoints") / f"{body.model_id}.pt"


def train_command(body) -> str:
    """The command that trains the default checkpoint for a body model file."""
    return f"metahmr-video train --body {body.model_path}"


def check_body(ckpt: "Checkpoint", body) -> None:
    """ModelFileError (one line) unless `ckpt` was trained for exactly this body model."""
    if ckpt.body == body.model_id:
        return
    trained = ckpt.body + (f" ({ckpt.info['body_file']})" if ckpt.info.get("body_file") else "")
    target = f"{body.model_id} ({body.model_path.name})" if body.model_path is not None else body.model_id
    hint = f"; train one with: {train_command(body)}" if body.model_path is not None else ""
    raise ModelFileError(f"this checkpoint was trained for body model {trained}, not for {target}{hint}")


@dataclass
class Checkpoint:
    """In-memory checkpoint. rates: per-parameter inner step sizes of `meta` (None: use lr)."""

    model_config: ModelConfig
    loss_config: LossConfig
    meta: Regressor
    aux: Regressor | None = None
    plain: Regressor | None = None
    rates: dict[str, torch.Tensor] | None = None
    lr: float = 1e-4
    eft_lr: float = 1e-4
    default_steps: int = 5
    body: str = "anny"
    info: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = {
            "format": FORMAT, "body": self.body,
            "model_config": self.model_config.to_dict(), "loss_config": self.loss_config.to_dict(),
            "meta": self.meta.state_dict(),
            "aux": None if self.aux is None else self.aux.state_dict(),
            "plain": None if self.plain is None else self.plain.state_dict(),
            "rates": None if self.rates is None else {k: v.detach().clone() for k, v in self.rates.items()},
            "lr": float(self.lr), "eft_lr": float(self.eft_lr), "default_steps": int(self.default_steps),
            "info": self.info,
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(blob, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | torch.device = "cpu") -> "Checkpoint":
        path = SHIPPED if path is None else Path(path)
        if not path.is_file():
            raise ModelFileError(f"checkpoint not found: {path}")
        try:
            blob = torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:  # corrupt, truncated, or not a torch file
            raise ModelFileError(f"cannot read checkpoint {path}: {exc}") from exc
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ModelFileError(f"{path} is not a metahmr-video checkpoint (format {FORMAT})")
        try:
            mcfg = ModelConfig.from_dict(blob["model_config"])

            def build(sd):
                if sd is None:
                    return None
                net = Regressor(mcfg).to(device)
                net.load_state_dict(sd)
                return net.eval()

            return cls(model_config=mcfg, loss_config=LossConfig.from_dict(blob["loss_config"]),
                       meta=build(blob["meta"]), aux=build(blob["aux"]), plain=build(blob["plain"]),
                       rates=blob["rates"], lr=blob["lr"], eft_lr=blob["eft_lr"],
                       default_steps=blob["default_steps"], body=blob["body"], info=blob.get("info", {}))
        except (KeyError, RuntimeError, TypeError) as exc:
            raise ModelFileError(f"checkpoint {path} does not match this version's model: {exc}") from exc

"""The regressor f_w (and the auxiliary f_u: same class, own weights).

Input: a feature vector per person (see `metahmr_video.model.features`): MediaPipe-style world
landmarks (metres, hip-centred, camera-aligned axes, y down), their visibilities, a flag for
"world landmarks missing", and CLIFF's box descriptor.

Output: a parameter vector theta [B, P] = (pose 6D for every bone, shape offsets from the neutral
phenotype 0.5, CLIFF crop camera (s, tx, ty)), refined by an iterative error-feedback (IEF) head:
theta_{t+1} = theta_t + decoder([features, theta_t]), starting from a learned mean theta_0.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from metahmr_video.core.rotations import rotmat_to_sixd


@dataclass
class ModelConfig:
    """Architecture of f_w / f_u. `in_dim` = landmark feature size (see features.feature_dim)."""

    in_dim: int = 136
    num_bones: int = 31
    num_shape: int = 6
    encoder_width: int = 512
    encoder_layers: int = 2
    head_width: int = 256
    ief_iters: int = 3

    @property
    def param_dim(self) -> int:
        return self.num_bones * 6 + self.num_shape + 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


# The last layer: one linear map per output group, in theta's order (pose, shape, camera).
LAST_LAYER_MODULES = ("dec_pose", "dec_shape", "dec_cam")
LAST_LAYER = tuple(f"{m}.{p}" for m in LAST_LAYER_MODULES for p in ("weight", "bias"))


class Regressor(nn.Module):
    """f_w: features [B, in_dim] -> theta [B, param_dim]; see module docstring."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        d = c.in_dim
        enc = []
        for _ in range(c.encoder_layers):
            enc += [nn.Linear(d, c.encoder_width), nn.GELU()]
            d = c.encoder_width
        self.encoder = nn.Sequential(*enc)
        self.fc1 = nn.Linear(d + c.param_dim, c.head_width)
        self.fc2 = nn.Linear(c.head_width, c.head_width)
        # The last layer: one linear map per output group (pose, shape, camera) so that each can get
        # its own (learned) test-time step sizes.
        self.dec_pose = nn.Linear(c.head_width, c.num_bones * 6)
        self.dec_shape = nn.Linear(c.head_width, c.num_shape)
        self.dec_cam = nn.Linear(c.head_width, 3)
        for layer in (self.dec_pose, self.dec_shape, self.dec_cam):
            nn.init.xavier_uniform_(layer.weight, gain=0.01)
            nn.init.zeros_(layer.bias)
        mean_pose = rotmat_to_sixd(torch.eye(3).expand(c.num_bones, 3, 3)).reshape(-1)
        init = torch.cat([mean_pose, torch.zeros(c.num_shape), torch.tensor([0.9, 0.0, 0.0])])
        self.register_buffer("init_theta", init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder: features [B, in_dim] -> [B, encoder_width] (no adapted weight lives here)."""
        return self.encoder(x)

    def head(self, feat: torch.Tensor, last: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """IEF head on trunk features [B, encoder_width] -> theta [B, param_dim].

        last: the last layer as a map h [B, head_width] -> [B, param_dim] to use instead of the
        module's own (e.g. per-person adapted weights, `metahmr_video.adapt.steps`).
        """
        if last is None:
            weight, bias = self.last_layer()
            last = functools.partial(torch.nn.functional.linear, weight=weight, bias=bias)
        theta = self.init_theta.expand(feat.shape[0], -1)
        for _ in range(self.config.ief_iters):
            h = torch.nn.functional.gelu(self.fc1(torch.cat([feat, theta], dim=-1)))
            h = torch.nn.functional.gelu(self.fc2(h))
            theta = theta + last(h)
        return theta

    def last_layer(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The last layer as one map: weight [param_dim, head_width], bias [param_dim] (LAST_LAYER_MODULES
        stacked in theta's order)."""
        return (torch.cat([getattr(self, m).weight for m in LAST_LAYER_MODULES]),
                torch.cat([getattr(self, m).bias for m in LAST_LAYER_MODULES]))

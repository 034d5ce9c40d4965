"""Anny's fitting path: the posed skeleton and a few surface vertices, nothing else (DESIGN.md,
"where speed comes from").

Test-time optimisation needs the bone heads and the landmark vertices, not the mesh. For Anny's
"local-ref" pose parameterization with an identity root orientation, the rest bone orientations
cancel out of the posed skeleton: with D_c the rotation of bone c (world-aligned axes, relative to
its parent p) and h_c its rest head,
    G_c = G_p D_c,      w_c = w_p + G_p (h_c - h_p),      G_0 = D_0, w_0 = 0,
where G_c is the bone's skinning rotation and w_c its posed head, and a vertex v with skinning
weights a_k on bones b_k goes to  sum_k a_k (G_bk (v - h_bk) + w_bk). So a step needs only the rest
heads and the landmark vertices of the current shape (both linear in Anny's blend-shape
coefficients, blended here for those few points only) and one batched 4x4 product per depth level
of the skeleton. The blend-shape coefficients are Anny's phenotype weights (piecewise-linear in
each phenotype between its anchors, multiplied across phenotypes) computed for all phenotypes at
once. The result equals Anny's full forward, values and gradients (tests/test_body.py), with far
fewer operations per call.
"""
from __future__ import annotations

import torch
from anny.models.model_data import PHENOTYPE_VARIATIONS
from torch import nn


class AnnyFitPath(nn.Module):
    """Bone heads and selected rest vertices of an `anny` model, posed. Metres, Anny's body frame
    (Z-up, facing -Y), root bone head at the origin.

    >>> path = AnnyFitPath(anny_model, vertex_ids)       # vertex_ids: [L] mesh vertex indices
    >>> heads, verts = path(rotations, phenotypes)       # [B, J, 3], [B, L, 3]
    """

    def __init__(self, model, vertex_ids: torch.Tensor) -> None:
        super().__init__()
        if model.pose_parameterization != "local-ref" or model.reference_bone_orientations is not None \
                or not model.root_identity_orientation:
            raise ValueError("AnnyFitPath needs Anny's 'local-ref' pose parameterization, no reference "
                             "orientations and an identity root orientation (the anny package's defaults)")
        vertex_ids = torch.as_tensor(vertex_ids, dtype=torch.long)
        num_bones = len(model.bone_labels)
        self._phenotype_tables(model)
        # Rest points: J bone heads, then the L selected vertices; [P, 3] + weights @ [W, P * 3]
        # (Anny's compact projection of the blend shapes folded in).
        template = torch.cat([model.template_bone_heads, model.template_vertices[vertex_ids]])
        blend = torch.cat([model.bone_heads_blendshapes, model.blendshapes[:, vertex_ids]], dim=1)
        blend = blend.reshape(blend.shape[0], -1)
        if model.phenotype_blendshape_projection is not None:
            blend = model.phenotype_blendshape_projection @ blend
        self.register_buffer("template", template, persistent=False)
        self.register_buffer("blend", blend, persistent=False)
        parents = [0] + [int(p) for p in model.bone_parents[1:]]
        self.register_buffer("parents", torch.tensor(parents), persistent=False)
        # Depth levels: bones whose parents all lie in earlier levels; positions in the depth order.
        levels, (local, order, inverse, _) = model.kinematic_chain_levels, model.kinematic_chain_indices
        self.levels = [slice(int(a), int(b)) for a, b in levels[1:]]
        for i, level in enumerate(self.levels):  # each level's parents, as positions in the level before
            self.register_buffer(f"parent_pos{i}", local[level].clone(), persistent=False)
        self.register_buffer("order", order.clone(), persistent=False)
        self.register_buffer("inverse", inverse.clone(), persistent=False)
        self.register_buffer("vertex_bones", model.vertex_bone_indices[vertex_ids].long(), persistent=False)
        self.register_buffer("vertex_weights", model.vertex_bone_weights[vertex_ids], persistent=False)
        self.num_bones = num_bones

    def _phenotype_tables(self, model) -> None:
        """Index tables for `phenotype_weights` from the model's anchors and blend-shape mask."""
        labels = list(model.phenotype_labels)
        features = [f for f in PHENOTYPE_VARIATIONS if f != "race"]
        if model.local_change_labels or model.facial_action_labels or set(labels) - set(features):
            raise ValueError("AnnyFitPath supports the interpolated phenotypes only (no race, local "
                             "changes or facial actions as inputs)")
        anchors = [model.anchors[f] for f in features]
        n = max(len(a) for a in anchors)
        table = torch.full((len(features), n), float("inf"), dtype=anchors[0].dtype)
        for i, a in enumerate(anchors):
            table[i, :len(a)] = a
        self.register_buffer("anchors", table, persistent=False)
        self.register_buffer("anchor_count", torch.tensor([len(a) for a in anchors]), persistent=False)
        # Input column of each feature (len(labels): the default 0.5 for features not exposed).
        self.register_buffer("feature_column", torch.tensor(
            [labels.index(f) if f in labels else len(labels) for f in features]), persistent=False)
        # Each variation of PHENOTYPE_VARIATIONS' order: its feature and anchor (race: fixed 1/3).
        var_feature, var_anchor = [], []
        for f, names in PHENOTYPE_VARIATIONS.items():
            for i in range(len(names)):
                var_feature.append(features.index(f) if f != "race" else -1)
                var_anchor.append(i)
        self.register_buffer("var_feature", torch.tensor(var_feature), persistent=False)
        self.register_buffer("var_anchor", torch.tensor(var_anchor), persistent=False)
        # Each blend shape is the product of the variations its mask row selects (index len(var): 1).
        mask = model.stacked_phenotype_blend_shapes_mask.bool()
        width = int(mask.sum(1).max())
        factors = torch.full((mask.shape[0], width), mask.shape[1], dtype=torch.long)
        for k, row in enumerate(mask):
            idx = row.nonzero().flatten()
            factors[k, :len(idx)] = idx
        self.register_buffer("factors", factors, persistent=False)
        self.extrapolate = bool(model.extrapolate_phenotypes)

    def phenotype_weights(self, shape: torch.Tensor) -> torch.Tensor:
        """Anny's phenotype blend-shape weights [B, W] for phenotypes shape [B, S] (model labels'
        order): per phenotype, linear interpolation weights of its two bracketing anchors (clamped
        to the anchor range unless the model extrapolates); a blend shape's weight is the product
        of its variations' weights. Same values and gradients as anny's phenotype_blendshape_weights."""
        batch = shape.shape[0]
        x = torch.cat([shape, shape.new_full((batch, 1), 0.5)], 1)[:, self.feature_column].T    # [F, B]
        count = self.anchor_count[:, None]
        if not self.extrapolate:
            lo, hi = self.anchors[:, :1], self.anchors.gather(1, count - 1)
            x = torch.where(x < lo, lo, x)
            x = torch.where(x > hi, hi, x)
        idx = torch.searchsorted(self.anchors, x.contiguous()).clamp(min=1)
        idx = torch.minimum(idx, count - 1)
        lower, upper = self.anchors.gather(1, idx - 1), self.anchors.gather(1, idx)
        alpha = (x - lower) / (upper - lower)                                                   # [F, B]
        f = self.var_feature.clamp(min=0)
        a, at = alpha[f].T, idx[f].T                                                           # [B, V]
        var = self.var_anchor
        w = torch.where(var == at - 1, 1.0 - a, torch.where(var == at, a, torch.zeros_like(a)))
        w = torch.where(self.var_feature >= 0, w, torch.full_like(w, 1.0 / 3.0))
        return torch.cat([w, w.new_ones(batch, 1)], 1)[:, self.factors].prod(-1)

    def rest_points(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rest bone heads [B, J, 3] and selected vertices [B, L, 3] of phenotypes shape [B, S]."""
        points = self.template + (self.phenotype_weights(shape) @ self.blend).reshape(shape.shape[0], -1, 3)
        return points[:, :self.num_bones], points[:, self.num_bones:]

    def forward(self, rotations: torch.Tensor, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """rotations [B, J, 3, 3] (local-ref, bone 0 = global orientation), shape [B, 6] phenotypes
        -> posed bone heads [B, J, 3] and selected vertices [B, L, 3]."""
        heads, verts = self.rest_points(shape)
        batch = rotations.shape[0]
        offsets = heads - heads[:, self.parents]                                      # [B, J, 3]; root: 0
        bottom = rotations.new_tensor([0.0, 0.0, 0.0, 1.0]).expand(batch, self.num_bones, 1, 4)
        local = torch.cat([torch.cat([rotations, offsets[..., None]], -1), bottom], -2)[:, self.order]
        # X_c = X_p K_c level by level, in depth order; X_0 = K_0 = [D_0 | 0].
        chain = [local[:, :1]]
        for i, level in enumerate(self.levels):
            chain.append(chain[-1][:, getattr(self, f"parent_pos{i}")] @ local[:, level])
        posed = torch.cat(chain, 1)[:, self.inverse]                                  # [B, J, 4, 4]
        rot, head = posed[..., :3, :3], posed[..., :3, 3]
        b = self.vertex_bones                                                         # [L, K]
        rel = verts[:, :, None] - heads[:, b]                                         # [B, L, K, 3]
        moved = (rot[:, b] @ rel[..., None]).squeeze(-1) + head[:, b]
        return head, (self.vertex_weights[..., None] * moved).sum(2)

"""A rig's first Anny model, derived from another rig's cached model of the same topology.

Anny (pinned 0.6.2) builds one compact model per (rig, topology) from a parse of all its MakeHuman
targets (~45 s). Only the skeleton (bone heads/tails: means of base-mesh vertices) and the skinning
weights depend on the rig; the vertex blendshapes do not. So, once any rig's compact model of a
topology is cached, another rig's model is built by Anny's own pipeline from
- the phenotype blendshapes of the base-mesh vertices the rigs' joints are regressed from
  (`JOINT_RIGS`; cached once by the first full build, ~9 MB float64), zero elsewhere, which gives
  that rig's exact bone heads/tails and skinning weights, and
- the cached model's vertex blendshapes `projection @ basis`: equal to the parsed ones on every
  phenotype Anny can reach (the span the compaction keeps), so Anny's compaction that follows finds
  the same basis up to round-off. It runs on their coordinates in an orthonormal basis of the cached
  basis's row span (r columns instead of 3 V; the bone columns, which raise the rank, as they are).
Only the default build arguments (no local changes, no facial actions) take this path.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from pathlib import Path

import torch

JOINT_RIGS = ("cmu_mb", "mixamo", "game_engine")  # rigs whose joint vertices are kept
_SLICE_FILE = "metahmr_joint_blendshapes.safetensors"


def _cache_dir() -> Path:
    from anny.models.model_data import CURRENT_DATA_VERSION
    from anny.paths import get_anny_cache_path

    return Path(get_anny_cache_path()) / f"v{CURRENT_DATA_VERSION}"


def compact_cache_file(**build_args) -> Path:
    """Where Anny's `build_compact_model_data(**build_args)` caches its result (its own naming)."""
    import anny.models as models
    from anny.models.model_data import _get_builder_metadata

    plain = models.build_compact_model_data.__wrapped__
    key = json.dumps(_get_builder_metadata(plain, **build_args), sort_keys=True).encode()
    return _cache_dir() / f"{plain.__name__}_{hashlib.sha256(key).hexdigest()[:32]}.safetensors"


def _joint_vertices(groups: dict, rig_names: tuple[str, ...]) -> torch.Tensor:
    """Sorted base-mesh vertex indices the bone heads and tails of these preset rigs average."""
    from anny.models.full_model import _get_coordinates_regressor
    from anny.models.model_data import RigConfig

    indices: set[int] = set()
    for name in rig_names:
        rig_file, _ = RigConfig.from_string(name).resolve_filenames()
        bones = json.loads(Path(rig_file).read_text())
        for bone in bones.get("bones", bones).values():
            for end in ("head", "tail"):
                indices.update(int(i) for i in _get_coordinates_regressor(groups, bone[end]))
    return torch.tensor(sorted(indices), dtype=torch.int64)


def base_mesh_groups() -> dict:
    """The MakeHuman base mesh's vertex groups (the joint cubes), as Anny's parser gives them."""
    import roma
    from anny.models.full_model import load_mesh

    world = roma.Linear(0.1 * roma.euler_to_rotmat("X", [90], degrees=True, dtype=torch.float64))[None]
    return load_mesh(eyes=False, tongue=False, world_transformation=world, dtype=torch.float64).groups


def save_joint_blendshapes(data, groups: dict) -> None:
    """Keep the phenotype rows of a parsed `BlendshapeData` at the `JOINT_RIGS` joint vertices."""
    import safetensors.torch

    path = _cache_dir() / _SLICE_FILE
    if path.exists():
        return
    k = data.stacked_phenotype_blend_shapes_mask.shape[0]
    vertices = _joint_vertices(groups, JOINT_RIGS)
    tensors = dict(vertices=vertices, blendshapes=data.blendshapes[:k, vertices].contiguous(),
                   mask=data.stacked_phenotype_blend_shapes_mask.contiguous(),
                   num_vertices=torch.tensor(data.blendshapes.shape[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    metadata = dict(labels=json.dumps(data.blendshape_labels[:k]), rigs=json.dumps(JOINT_RIGS))
    safetensors.torch.save_file(tensors, tmp, metadata=metadata)
    tmp.replace(path)


def _load_joint_blendshapes():
    """(the cached joint slice as a `BlendshapeData` over the whole base mesh, zero off the joints,
    the rigs whose joints it holds), or None."""
    from anny.models.full_model import BlendshapeData
    from safetensors import safe_open

    path = _cache_dir() / _SLICE_FILE
    if not path.exists():
        return None
    with safe_open(path, framework="pt") as f:
        t = {k: f.get_tensor(k) for k in f.keys()}
        labels = json.loads(f.metadata()["labels"])
        rigs = json.loads(f.metadata().get("rigs", json.dumps(JOINT_RIGS)))  # E38's slices: the same rigs
    full = torch.zeros(len(labels), int(t["num_vertices"]), 3, dtype=t["blendshapes"].dtype)
    full[:, t["vertices"]] = t["blendshapes"]
    return BlendshapeData(blendshapes=full, stacked_phenotype_blend_shapes_mask=t["mask"],
                          local_change_labels=[], facial_action_labels=[], blendshape_labels=labels), rigs


@contextlib.contextmanager
def _parse_replaced(blendshapes):
    """Within the block, Anny's model builds use these blendshapes instead of parsing its targets,
    and do not cache."""
    import anny.models as models
    import anny.models.full_model as full_model

    saved = models.build_model_data, full_model.load_data, full_model.load_all_blendshapes
    models.build_model_data = getattr(saved[0], "__wrapped__", saved[0])
    full_model.load_data = getattr(saved[1], "__wrapped__", saved[1])
    full_model.load_all_blendshapes = lambda **kwargs: blendshapes
    try:
        yield
    finally:
        models.build_model_data, full_model.load_data, full_model.load_all_blendshapes = saved


def derive_compact_model_data(rig, topology, local_changes, facial_actions, phenotypes, rank=None,
                              head_weight: float = 1.0, orientation_weight: float = 1e-2):
    """Anny's compact model data for `rig` (a RigConfig) from a cached model of another `JOINT_RIGS`
    rig with the same other arguments, or None where none is cached or the rig's joints are not in
    the cached slice (then Anny builds it the usual way)."""
    import anny.models as models
    from anny.models.model_data import ModelData, RigConfig

    if local_changes != "none" or facial_actions != "none" or rig.base_rig not in JOINT_RIGS:
        return None
    args = dict(topology=topology, local_changes=local_changes, facial_actions=facial_actions,
                phenotypes=phenotypes, rank=rank, head_weight=head_weight, orientation_weight=orientation_weight)
    sources = [compact_cache_file(rig=RigConfig.from_string(name), **args) for name in JOINT_RIGS]
    source = next((p for p in sources if p.exists()), None)
    loaded = _load_joint_blendshapes() if source is not None else None
    if loaded is None or rig.base_rig not in loaded[1]:
        return None
    src = ModelData.load_safetensors(source)
    with _parse_replaced(loaded[0]):
        data = models.build_model_data(rig=rig, topology=topology, local_changes=local_changes,
                                       facial_actions=facial_actions)
    if (src.phenotype_blendshape_projection.shape[0] != data.stacked_phenotype_blend_shapes_mask.shape[0]
            or not torch.equal(data.template_vertices, src.template_vertices)):
        return None
    return _compact_in_vertex_span(data, src, phenotypes=phenotypes, rank=rank, head_weight=head_weight,
                                   orientation_weight=orientation_weight)


def _compact_in_vertex_span(data, src, **compact_args):
    """Anny's compaction of `data` (rig from the joint slice) with vertex blendshapes `projection @ basis` of
    the compact model `src`, run on their coordinates in an orthonormal basis Q of that basis's row span:
    the compaction's SVD sees the same rest-state matrix up to an isometry (Q, weights rescaled), so it
    finds the same singular values and directions, at the cost of r columns instead of 3 V."""
    from anny.models.model_transforms import compact_phenotype_blendshapes

    projection, r = src.phenotype_blendshape_projection, src.phenotype_blendshape_projection.shape[1]
    q, upper = torch.linalg.qr(src.blendshapes[:r].flatten(1).T.to(torch.float64))  # basis = upper.T @ q.T
    n, v = -(-r // 3), data.template_vertices.shape[0]
    scale = (n / v) ** 0.5  # Anny weights vertex deltas by 1 / (vertex count)
    coords = torch.zeros(projection.shape[0], 3 * n, dtype=torch.float64)
    coords[:, :r] = scale * projection.to(torch.float64) @ upper.T
    reduced = dataclasses.replace(data, template_vertices=data.template_vertices.new_zeros(n, 3),
                                  blendshapes=coords.reshape(-1, n, 3).to(data.blendshapes.dtype))
    out = compact_phenotype_blendshapes(reduced, **compact_args)
    basis = (out.blendshapes.flatten(1)[:, :r].to(torch.float64) / scale) @ q.T
    return dataclasses.replace(out, template_vertices=data.template_vertices,
                               blendshapes=basis.reshape(-1, v, 3).to(data.blendshapes.dtype))

"""A rig's model derived from another rig's cached model (`anny_rig_cache`) against the same model
built the old way (Anny's full pipeline from the parsed targets): same skeleton and skinning, same
vertices and bone ends to 1e-6 m. One parse of Anny's targets (about a minute), in a private cache."""
from __future__ import annotations

import pytest
import roma
import torch

from metahmr_video.body.anny_body import DEFAULT_RIG, FIT_TOPOLOGY, anny_build_session
from metahmr_video.body import anny_rig_cache


@pytest.fixture
def private_anny_cache(tmp_path):
    from anny.paths import get_anny_cache_path, set_anny_cache_path

    before = get_anny_cache_path()
    set_anny_cache_path(tmp_path)
    yield tmp_path
    set_anny_cache_path(before)


def _posed(data, rig, pose: torch.Tensor, phenotypes: torch.Tensor) -> dict:
    """float64 outputs of Anny built from this model data, local-ref pose [B, J, 3] rotation vectors."""
    from anny.models.phenotype import Anny

    model = Anny.from_model_data(data, pose_parameterization="local-ref", bone_orientation=rig.bone_orientation,
                                 root_identity_orientation=rig.root_identity_orientation).to(torch.float64)
    h = torch.zeros(*pose.shape[:2], 4, 4, dtype=torch.float64)
    h[..., :3, :3], h[..., 3, 3] = roma.rotvec_to_rotmat(pose), 1.0
    with torch.no_grad():
        return model(pose_parameters=h, phenotype_kwargs=phenotypes, return_bone_ends=True)


def test_derived_rig_model_matches_full_build(private_anny_cache):
    import anny
    import anny.models as models
    from anny.models.model_data import RigConfig, TopologyConfig

    rig = RigConfig.from_string("mixamo")
    args = dict(rig=rig, topology=TopologyConfig.from_string(FIT_TOPOLOGY), local_changes="none",
                facial_actions="none", phenotypes="default")
    with anny_build_session():
        anny.Anny(rig=DEFAULT_RIG, topology=FIT_TOPOLOGY)  # the parse: caches cmu_mb and the joint slice
        reference = models.build_compact_model_data.__wrapped__(**args)  # the old way, from the same parse
    derived = anny_rig_cache.derive_compact_model_data(**args)
    assert derived is not None
    assert derived.metadata.bone_labels == reference.metadata.bone_labels
    assert derived.metadata.bone_parents == reference.metadata.bone_parents
    assert torch.equal(derived.vertex_bone_indices, reference.vertex_bone_indices)
    assert torch.equal(derived.vertex_bone_weights, reference.vertex_bone_weights)
    assert torch.equal(derived.faces, reference.faces)
    assert derived.blendshapes.shape == reference.blendshapes.shape  # the same rank
    g = torch.Generator().manual_seed(0)
    phenotypes = torch.rand(8, 6, generator=g, dtype=torch.float64)
    pose = 0.4 * torch.randn(8, len(reference.metadata.bone_labels), 3, generator=g, dtype=torch.float64)
    new, old = _posed(derived, rig, pose, phenotypes), _posed(reference, rig, pose, phenotypes)
    for key in ("vertices", "bone_heads", "bone_tails", "rest_vertices", "rest_bone_heads", "rest_bone_tails"):
        assert (new[key] - old[key]).abs().max() < 1e-6, key

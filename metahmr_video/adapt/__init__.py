"""Per-person test-time adaptation of the meta-trained regressor, batched per frame."""
from metahmr_video.adapt.adapter import Adapter, attach_vertices
from metahmr_video.records import PersonBody

__all__ = ["Adapter", "PersonBody", "attach_vertices"]

"""The world a static camera films: gravity, the ground, foot contacts (frames -> ... -> smoothed
bodies -> world -> sinks)."""
from metahmr_video.world.estimator import WorldConfig, WorldEstimator, focal_from_edges, track_in_world
from metahmr_video.world.feet import FeetConfig, foot_contacts, lock_offsets, planting_scale
from metahmr_video.world.frame import WorldFrame
from metahmr_video.world.ground import GroundConfig, body_evidence, fit_ground
from metahmr_video.world.legs import bend_legs, leg_chains

__all__ = ["FeetConfig", "GroundConfig", "WorldConfig", "WorldEstimator", "WorldFrame", "bend_legs", "body_evidence",
           "fit_ground", "focal_from_edges", "foot_contacts", "leg_chains", "lock_offsets", "planting_scale",
           "track_in_world"]

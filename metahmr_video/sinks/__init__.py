"""Where results go: per-video NPZ, overlay MP4, animation export."""
from metahmr_video.sinks.npz_sink import NpzSink
from metahmr_video.sinks.overlay_video import OverlayVideoSink
from metahmr_video.sinks.render import outward_faces, render_meshes, track_color

__all__ = ["NpzSink", "OverlayVideoSink", "outward_faces", "render_meshes", "track_color"]

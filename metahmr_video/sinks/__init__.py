"""Where results go: per-video NPZ, overlay MP4, animation export."""
from metahmr_video.sinks.npz_sink import NpzSink
from metahmr_video.sinks.overlay_video import OverlayVideoSink
from metahmr_video.sinks.render import body_faces, outward_faces, render_meshes, track_color

__all__ = ["NpzSink", "OverlayVideoSink", "body_faces", "outward_faces", "render_meshes", "track_color"]

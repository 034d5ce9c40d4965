"""Where results go: per-video NPZ, overlay MP4 (PNG for photos), animation export."""
from metahmr_video.sinks.npz_sink import NpzSink
from metahmr_video.sinks.overlay_image import OverlayImageSink
from metahmr_video.sinks.overlay_video import OverlayVideoSink
from metahmr_video.sinks.render import body_faces, outward_faces, render_meshes, track_color

__all__ = ["NpzSink", "OverlayImageSink", "OverlayVideoSink", "body_faces", "outward_faces", "render_meshes", "track_color"]

"""Re-import exported FBX files with Blender's own importer and render one frame of each, headless: the
skinned body (Blender's Workbench engine, see-through) with the file's skeleton drawn over it, the
panels side by side in one PNG. A check by eye that a file holds what a game engine will get.

    metahmr-video run examples/media/pedestrians.mp4 -o results/
    metahmr-video export results/pedestrians.npz -f fbx -o results/mixamo/ --rig mixamo --tracks 1
    metahmr-video export results/pedestrians.npz -f fbx -o results/ue/ --rig game_engine --tracks 1
    python examples/render_fbx.py results/mixamo/pedestrians_track1.fbx results/ue/pedestrians_track1.fbx \\
        --frame 40 -o docs/rig_export.png

Needs the `fbx` extra (bpy). The camera looks at the body from the front-left, level with it.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np


def _look(forward, up):
    """The rotation of a camera looking along `forward` with `up` up (Blender cameras look down -Z)."""
    from mathutils import Matrix

    z = -forward.normalized()
    x = up.cross(z).normalized()
    return Matrix((x, z.cross(x), z)).transposed().to_quaternion()


def render(path: Path, frame: int, size: int) -> np.ndarray:
    """One FBX's frame as a [size, size, 3] BGR image with the skeleton drawn over the body."""
    import bpy
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)   # FBX time 0 = video frame 0
    scene = bpy.context.scene
    scene.frame_set(frame)
    arm = next(o for o in scene.objects if o.type == "ARMATURE")
    heads = {b.name: arm.matrix_world @ b.head for b in arm.pose.bones}
    tails = {b.name: arm.matrix_world @ b.tail for b in arm.pose.bones}
    mesh = next((o for o in scene.objects if o.type == "MESH"), None)
    body = [n for n in heads if mesh is None or n in mesh.vertex_groups]     # framing: bones that move the skin
    points = np.array([tuple(v) for n in body for v in (heads[n], tails[n])])
    centre = Vector(((points.min(0) + points.max(0)) / 2).tolist())
    extent = float((points.max(0) - points.min(0)).max())
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = 1.15 * extent
    # Upright in the picture whatever the video camera's tilt: "up" runs from the joints' centre to the head.
    up = (heads[next(n for n in heads if n.lower().endswith("head"))] - centre).normalized()
    view = Vector((-0.5, -1.0, 0.0))                                 # from the front-left (the body faces -Y)
    view = (view - view.dot(up) * up).normalized()
    cam.location = centre + 4.0 * view
    cam.rotation_euler = _look(-view, up).to_euler()
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "SINGLE"
    scene.display.shading.single_color = (0.75, 0.7, 0.65)
    scene.display.shading.show_xray = True
    scene.display.shading.xray_alpha = 0.6
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.film_transparent = True
    with tempfile.TemporaryDirectory() as tmp:
        scene.render.filepath = str(Path(tmp) / "frame.png")
        bpy.ops.render.render(write_still=True)
        rgba = cv2.imread(scene.render.filepath, cv2.IMREAD_UNCHANGED).astype(np.float32)
    alpha = rgba[..., 3:] / 255.0
    image = np.ascontiguousarray((rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8))   # on white

    def pixel(v) -> tuple[int, int]:
        p = world_to_camera_view(scene, cam, v)
        return int(round(p.x * size)), int(round((1.0 - p.y) * size))

    for name in heads:
        side = (200, 90, 30) if "Left" in name or name.endswith("_l") else \
            (40, 40, 210) if "Right" in name or name.endswith("_r") else (40, 140, 40)
        cv2.line(image, pixel(heads[name]), pixel(tails[name]), side, 2, cv2.LINE_AA)
        cv2.circle(image, pixel(heads[name]), 3, (20, 20, 20), -1, cv2.LINE_AA)
    root = next(b.name for b in arm.pose.bones if b.parent is None)
    title = f"{len(heads)} bones, root {root}, frame {frame}"
    cv2.putText(image, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fbx", type=Path, nargs="+")
    ap.add_argument("--frame", type=int, default=0, help="video frame index to show")
    ap.add_argument("--size", type=int, default=400, help="panel size in pixels")
    ap.add_argument("-o", "--output", type=Path, default=Path("fbx_frame.png"))
    args = ap.parse_args()
    panels = [render(p, args.frame, args.size) for p in args.fbx]
    cv2.imwrite(str(args.output), np.concatenate(panels, axis=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""Foot contacts and planted feet for one track in a static camera's world.

Depth is what a monocular fit knows least: a body slides along the camera's rays from frame to
frame, which in the world makes a planted foot sink, float and slide. A foot in contact is the
body's lowest (within `lowest_m`) and still in the image (its 2D keypoints, smoothed over
`still_smooth_s` seconds, move less than `still_px_s` pixels per second, relative to the person's
box height of 100 px: 2D is what the detector measures well); contacts shorter than
`min_contact_s` are dropped. In a contact frame
the body is scaled about the camera centre until that foot's sole touches the ground: a monocular
fit knows a body's size and its distance only as their ratio, and scaling both leaves the image
exactly as it was; between contacts the factor is interpolated, so nothing pops. Then a planted
foot's jitter is taken out (its position smoothed over its contact, `lock_offsets`): its leg bends
to hold it there (`legs.bend_legs`, E71: the world's image moves 0.9-1.9 px on 1080x1920 views), or
without a skeleton the body is shifted on the ground with it (E45: 7-14 px). The camera-frame
results are not touched."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from metahmr_video.core.layout import Landmark
from metahmr_video.world.frame import WorldFrame

FEET = ([Landmark.LEFT_HEEL, Landmark.LEFT_FOOT_INDEX], [Landmark.RIGHT_HEEL, Landmark.RIGHT_FOOT_INDEX])
ANKLES = (Landmark.LEFT_ANKLE, Landmark.RIGHT_ANKLE)
KNEES = (Landmark.LEFT_KNEE, Landmark.RIGHT_KNEE)


@dataclass(frozen=True)
class FeetConfig:
    """See the module docstring. plant: scale bodies so that feet in contact touch the ground
    (`planting_scale`, smoothed over `smooth_s` seconds); lock: then hold a planted foot on the
    ground at its position smoothed over `hold_s` seconds (`lock_offsets`; ramped over `ramp_s`)."""

    lowest_m: float = 0.05
    still_px_s: float = 60.0
    still_smooth_s: float = 0.1
    min_contact_s: float = 0.1
    plant: bool = True
    smooth_s: float = 0.1
    lock: bool = True
    hold_s: float = 0.1
    ramp_s: float = 0.1


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def foot_contacts(keypoints3d: np.ndarray, keypoints2d: np.ndarray, boxes: np.ndarray, time_s: np.ndarray,
                  world: WorldFrame, config: FeetConfig = FeetConfig()) -> np.ndarray:
    """[T,2] bool left/right foot on the ground, from a track's [T,33,3] camera-frame keypoints
    (metres), [T,33,2] 2D evidence (pixels), [T,4] boxes and [T] times (seconds)."""
    t = len(time_s)
    sole = np.stack([world.heights(keypoints3d[:, f]).min(1) for f in FEET], 1)  # [T,2]
    lowest = sole - sole.min(1, keepdims=True) <= config.lowest_m
    if t < 2:
        return lowest
    scale = 100.0 / np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    contacts = np.zeros((t, 2), bool)
    frame_s = max(float(np.median(np.diff(time_s))), 1e-6)
    for side, f in enumerate(FEET):
        foot2d = gaussian_filter1d(keypoints2d[:, f].mean(1) * scale[:, None], config.still_smooth_s / frame_s,
                                   axis=0, mode="nearest")  # the detector's jitter is not a step
        speed = np.linalg.norm(np.gradient(foot2d, time_s, axis=0), axis=-1)
        on = lowest[:, side] & (speed <= config.still_px_s)
        for a, b in _runs(on):
            contacts[a:b, side] = time_s[b - 1] - time_s[a] >= config.min_contact_s - 1e-9
    return contacts


def planting_scale(keypoints3d: np.ndarray, contacts: np.ndarray, world: WorldFrame, sole_m: float,
                   time_s: np.ndarray, smooth_s: float = 0.1, max_change: float = 0.3) -> np.ndarray:
    """[T] factors that scale the body about the camera centre (its image does not change) so that
    each contact frame's lowest contact foot touches the ground; interpolated between contacts,
    held at the ends, then smoothed (Gaussian, `smooth_s` seconds); 1 without contacts; frames
    asking for more than `max_change` are left out."""
    t = len(keypoints3d)
    scale = np.full(t, np.nan)
    up = np.asarray(world.up, np.float64) / np.linalg.norm(world.up)
    for i in np.flatnonzero(contacts.any(1)):
        pts = np.concatenate([keypoints3d[i, FEET[s]] for s in (0, 1) if contacts[i, s]])
        along = float(pts[np.argmin(pts @ up)] @ up)
        if along < -1e-6:  # below the camera
            a = (sole_m - world.height_m) / along
            scale[i] = a if abs(a - 1.0) <= max_change else np.nan
    known = np.flatnonzero(np.isfinite(scale))
    if not len(known):
        return np.ones(t)
    scale = np.interp(time_s, time_s[known], scale[known])
    if smooth_s > 0 and t > 1:
        scale = gaussian_filter1d(scale, smooth_s / max(float(np.median(np.diff(time_s))), 1e-6), mode="nearest")
    return scale


def lock_offsets(feet_world: np.ndarray, contacts: np.ndarray, time_s: np.ndarray, ramp_s: float = 0.1,
                 hold_s: float | None = None) -> np.ndarray:
    """[T,3] world-frame horizontal offsets (metres, y = 0) that hold each planted foot in place:
    within a contact (of the foot planted longer, when both are) the foot is moved to its median
    position over the contact (`hold_s` None), or to its position smoothed over `hold_s` seconds
    (a Gaussian: the jitter goes, a slow drift stays); between contacts the offset goes linearly from one contact's
    edge to the next over at most `ramp_s` seconds (no pop), and is 0 further away.
    feet_world [T,2,3]: each foot's position (world, metres) after planting."""
    t = len(time_s)
    offset = np.full((t, 3), np.nan)
    owner = np.where(contacts[:, 0] & contacts[:, 1], -1, np.where(contacts[:, 0], 0, np.where(contacts[:, 1], 1, -2)))
    for side in (0, 1):
        for a, b in _runs(contacts[:, side]):
            span = np.arange(a, b)
            mine = span[(owner[span] == side) | ((owner[span] == -1) & np.isnan(offset[span, 0]))]
            if not len(mine):
                continue
            if hold_s is None:
                anchor = np.broadcast_to(np.median(feet_world[a:b, side], axis=0), (b - a, 3))
            else:
                frame_s = max(float(np.median(np.diff(time_s))), 1e-6) if t > 1 else 1.0
                anchor = gaussian_filter1d(feet_world[a:b, side], hold_s / frame_s, axis=0, mode="nearest")
            offset[mine] = anchor[mine - a] - feet_world[mine, side]
    offset[:, 1] = 0.0
    known = np.isfinite(offset[:, 0])
    if not known.any():
        return np.zeros((t, 3))
    out = np.zeros((t, 3))
    out[known] = offset[known]
    idx = np.flatnonzero(known)
    for i in np.flatnonzero(~known):  # a free frame: towards the nearest contacts' edge offsets, ramped
        before, after = idx[idx < i], idx[idx > i]
        w_b = max(0.0, 1.0 - (time_s[i] - time_s[before[-1]]) / ramp_s) if len(before) else 0.0
        w_a = max(0.0, 1.0 - (time_s[after[0]] - time_s[i]) / ramp_s) if len(after) else 0.0
        if len(before) and len(after):
            gap = time_s[after[0]] - time_s[before[-1]]
            if gap <= 2 * ramp_s:  # a short gap: straight from one edge to the other
                f = (time_s[i] - time_s[before[-1]]) / gap
                out[i] = (1 - f) * offset[before[-1]] + f * offset[after[0]]
                continue
        out[i] = (w_b * offset[before[-1]] if len(before) else 0.0) + (w_a * offset[after[0]] if len(after) else 0.0)
    return out

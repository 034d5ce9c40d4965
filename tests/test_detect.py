"""Multi-person detector on real images and a real clip; precomputed keypoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from metahmr_video.detect import DetectorConfig, MultiPersonDetector, PrecomputedKeypoints, Roi, load_keypoints
from metahmr_video.detect.blazepose import roi_from_alignment_points, ssd_anchors
from metahmr_video.core.layout import MEDIAPIPE_33, Landmark, mirror_index
from metahmr_video.core.errors import InputError
from metahmr_video.core.records import Frame
from metahmr_video.sources import VideoSource, read_image

ROOT = os.path.join(os.path.dirname(__file__), "..")
MEDIA = os.path.join(ROOT, "examples", "media")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


@pytest.fixture(scope="module")
def detector():
    return MultiPersonDetector(DetectorConfig(tiles=2, full_every=1))


def _inside(p, box, margin=0.0):
    return box[0] - margin <= p[0] <= box[2] + margin and box[1] - margin <= p[1] <= box[3] + margin


def test_anchor_layout_and_crop_geometry():
    a = ssd_anchors()
    assert a.shape == (2254, 2) and (a > 0).all() and (a < 1).all()
    upright = roi_from_alignment_points(np.array([100.0, 200.0]), np.array([100.0, 100.0]))
    assert upright.rotation == pytest.approx(0.0) and upright.side == pytest.approx(250.0)
    leaning = roi_from_alignment_points(np.array([0.0, 0.0]), np.array([10.0, -10.0]))
    assert leaning.rotation == pytest.approx(np.pi / 4)  # body axis turned clockwise
    roi = Roi(50.0, 60.0, 100.0, 0.3)
    m = roi.crop_to_image(256)
    centre = m[:, :2] @ np.array([128.0, 128.0]) + m[:, 2]
    np.testing.assert_allclose(centre, [50.0, 60.0], atol=1e-6)
    up = m[:, :2] @ np.array([128.0, 0.0]) + m[:, 2] - centre  # top of the crop
    np.testing.assert_allclose(up / 50.0, [np.sin(0.3), -np.cos(0.3)], atol=1e-6)


def test_finds_the_astronaut_with_landmarks_on_the_body(detector):
    image = read_image(os.path.join(MEDIA, "astronaut.jpg"))
    people = detector.detect(Frame(0, 0.0, image))
    assert len(people) == 1
    p = people[0]
    assert p.score > 0.8
    kp, conf = p.keypoints2d, p.keypoint_conf
    assert kp.shape == (33, 2) and conf.shape == (33,) and ((conf >= 0) & (conf <= 1)).all()
    assert p.world_landmarks is not None and p.world_landmarks.shape == (33, 3)
    for name in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow"):
        assert conf[Landmark[name.upper()]] > 0.5, name
        assert _inside(kp[Landmark[name.upper()]], p.box), name
    # face: the nose lies in the face region of the photo (about x 170-280, y 80-190)
    assert 170 < kp[Landmark.NOSE, 0] < 280 and 80 < kp[Landmark.NOSE, 1] < 190
    # facing the camera: her left is on the image's right, for every confident pair
    for l, r in enumerate(mirror_index(MEDIAPIPE_33)[:15]):
        if l != r and MEDIAPIPE_33[l].startswith("left") and conf[l] > 0.5 and conf[r] > 0.5:
            assert kp[l, 0] > kp[r, 0]
    assert kp[Landmark.NOSE, 1] < kp[Landmark.LEFT_SHOULDER, 1]
    # metric world landmarks: shoulder width of an adult
    w = p.world_landmarks
    assert 0.2 < np.linalg.norm(w[Landmark.LEFT_SHOULDER] - w[Landmark.RIGHT_SHOULDER]) < 0.6


def test_full_body_person_upright_and_inside_box(detector):
    image = read_image(os.path.join(MEDIA, "basketball1.png"))
    people = detector.detect(Frame(0, 0.0, image))
    assert len(people) >= 1
    left = min(people, key=lambda d: d.box[0])
    kp, conf = left.keypoints2d, left.keypoint_conf
    assert left.box[0] < 60 and left.box[2] < 260  # the player on the left
    order = [Landmark.NOSE, Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP, Landmark.LEFT_KNEE, Landmark.LEFT_ANKLE]
    ys = kp[order, 1]
    assert np.all(np.diff(ys) > 0), ys  # head above shoulders above hips above knees above ankles
    assert kp[Landmark.LEFT_ANKLE, 1] > 400
    for i in range(33):
        if conf[i] > 0.5:
            assert _inside(kp[i], left.box)
    # facing the camera: left limbs on the image's right
    assert kp[Landmark.LEFT_SHOULDER, 0] > kp[Landmark.RIGHT_SHOULDER, 0]
    assert kp[Landmark.LEFT_HIP, 0] > kp[Landmark.RIGHT_HIP, 0]


def test_recall_precision_on_labelled_pedestrian_frames(detector):
    from perception import load_labels, match_counts

    labels = load_labels()
    tp = nd = nl = 0
    for frame in VideoSource(os.path.join(MEDIA, "pedestrians.mp4")):
        if frame.index in labels:
            people = detector.detect(frame)
            a, b, c = match_counts([p.box for p in people], labels[frame.index])
            tp, nd, nl = tp + a, nd + b, nl + c
    recall, precision = tp / nl, tp / nd
    assert nl == 53
    assert recall >= 0.75, (recall, precision)
    assert precision >= 0.85, (recall, precision)


def test_close_back_facing_player_is_found():
    """basketball1.png, the pipeline's detector settings: the player on the right is close, cut by
    the frame and turned away (no face for the pose detector, no whole upright body for HOG);
    person segmentation gives his crop."""
    people = MultiPersonDetector().detect(Frame(0, 0.0, read_image(os.path.join(MEDIA, "basketball1.png"))))
    assert len(people) == 2
    right = max(people, key=lambda p: p.box[0])
    assert right.box[0] > 380 and right.box[3] - right.box[1] > 300
    assert right.keypoint_conf[[Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER]].max() > 0.5
    assert 430 < right.keypoints2d[[Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER], 0].mean() < 640


def test_reusable_across_inputs_and_hints(detector):
    frames = list(VideoSource(os.path.join(MEDIA, "pedestrians.mp4"), max_frames=2))
    first = detector.detect(frames[0])
    again = detector.detect(frames[1], hints=first, full=False)  # re-crop only
    assert len(again) >= len(first) - 1 and all(d.source == "track" for d in again)
    for d in again:
        assert d.roi is not None
    astro = detector.detect(Frame(0, 0.0, read_image(os.path.join(MEDIA, "astronaut.jpg"))))
    assert len(astro) == 1
    detector.reset()
    people = []
    for frame in VideoSource(os.path.join(MEDIA, "pedestrians.mp4"), max_frames=3):
        people = detector.detect(frame, hints=people, full=None)
        assert people and all(np.isfinite(p.keypoints2d).all() for p in people)


def test_precomputed_coco_openpose_npz(tmp_path):
    coco = np.zeros((17, 3))
    coco[:, 0] = np.arange(17) * 10 + 100
    coco[:, 1] = np.arange(17) * 5 + 50
    coco[:, 2] = 2
    coco[3, 2] = 0  # left ear not labelled
    entries = [{"image_id": 4, "keypoints": coco.ravel().tolist(), "score": 0.9, "bbox": [90, 40, 200, 120]}]
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(entries))
    det = PrecomputedKeypoints(path)
    (d,) = det.for_frame(4)
    assert det.for_frame(0) == []
    np.testing.assert_allclose(d.keypoints2d[Landmark.LEFT_SHOULDER], coco[5, :2])
    np.testing.assert_allclose(d.keypoints2d[Landmark.RIGHT_ANKLE], coco[16, :2])
    assert d.keypoint_conf[Landmark.LEFT_EAR] == 0 and d.keypoint_conf[Landmark.LEFT_SHOULDER] == 1
    assert d.keypoint_conf[Landmark.LEFT_HEEL] == 0 and d.score == pytest.approx(0.9)
    np.testing.assert_allclose(d.box, [90, 40, 290, 160])

    op_dir = tmp_path / "openpose"
    op_dir.mkdir()
    body25 = np.zeros((25, 3))
    body25[:, :2] = np.arange(50).reshape(25, 2)
    body25[:, 2] = 0.8
    for i in (0, 1, 10):
        (op_dir / f"clip_{i:012d}_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": body25.ravel().tolist()}]}))
    by_frame = load_keypoints(op_dir)
    assert sorted(by_frame) == [0, 1, 2]
    d = by_frame[2][0]
    np.testing.assert_allclose(d.keypoints2d[Landmark.RIGHT_SHOULDER], body25[2, :2])
    np.testing.assert_allclose(d.keypoints2d[Landmark.LEFT_HEEL], body25[21, :2])

    kps = np.full((3, 2, 17, 3), np.nan)
    kps[0, 0] = coco
    kps[2, 1] = coco
    np.savez(tmp_path / "k.npz", keypoints=kps)
    det = PrecomputedKeypoints(tmp_path / "k.npz")
    assert len(det.for_frame(0)) == 1 and det.for_frame(1) == [] and len(det.for_frame(2)) == 1


def test_precomputed_bad_input(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_keypoints(tmp_path / "missing.json")
    (tmp_path / "e.json").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_keypoints(tmp_path / "e.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        load_keypoints(tmp_path / "bad.json")
    np.savez(tmp_path / "x.npz", other=np.zeros(3))
    with pytest.raises(InputError, match="no 'keypoints'"):
        load_keypoints(tmp_path / "x.npz")
    (tmp_path / "odd.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1, 2, 1] * 5}]))
    with pytest.raises(InputError, match="unknown keypoint layout"):
        load_keypoints(tmp_path / "odd.json")


def test_hog_slices_split_the_pyramid_and_find_what_it_finds():
    from metahmr_video.core.boxes import box_iou
    from metahmr_video.detect.hog import HogPeopleDetector

    hog = HogPeopleDetector(parts=5)
    plan = hog.slices(1229, 922)
    assert plan[0][0] == 0 and all(a + n == b for (a, n), (b, _) in zip(plan, plan[1:]))
    levels = plan[-1][0] + plan[-1][1]
    assert levels == len(HogPeopleDetector(parts=1).slices(1229, 922)) or levels > 30
    cost = [sum(1.05 ** (-2 * i) for i in range(a, a + n)) for a, n in plan]
    assert len(plan) == 5 and max(cost) < 2.5 * min(cost)  # about equal shares
    image = next(iter(VideoSource(os.path.join(MEDIA, "pedestrians.mp4")))).image
    whole, _ = hog(image)
    parts = np.concatenate([hog(image, part=k)[0] for k in range(5)])
    assert len(whole) >= 5
    assert (box_iou(whole, parts).max(1) > 0.5).mean() >= 0.8  # the slices together find the people


def test_hog_on_crops_smaller_than_its_window_finds_nothing_and_does_not_crash():
    """OpenCV's HOG corrupted the heap on such crops (a lost track's search window at the frame's
    edge: the real-pixel evaluation died with SIGSEGV); run in a child so a crash fails the test."""
    code = ("import numpy as np\n"
            "from metahmr_video.detect.hog import HogPeopleDetector\n"
            "hog = HogPeopleDetector(parts=3)\n"
            "for w, h in [(10, 20), (100, 60), (63, 127), (5, 300)]:\n"
            "    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)\n"
            "    for up in (1.0, 1.6):\n"
            "        assert len(hog(img, upscale=up)[0]) == 0\n"
            "    assert all(len(hog(img, part=k)[0]) == 0 for k in range(3))\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-500:]


def test_search_for_new_people_rests_while_the_scene_is_settled():
    from metahmr_video.track import Tracker

    det = MultiPersonDetector(DetectorConfig(settle_frames=5, settled_search_every=20))
    calls = []

    class Counted:  # the search's models, counting the calls (frame number, model)
        def __init__(self, inner, name):
            self.inner, self.name = inner, name

        def __call__(self, *a, **k):
            calls.append((det._calls - 1, self.name))  # the frame being searched
            return self.inner(*a, **k)

        def __getattr__(self, attr):
            return getattr(self.inner, attr)

    det.hog, det.pose_detector = Counted(det.hog, "hog"), Counted(det.pose_detector, "pose")
    tracker = Tracker()
    frames = list(VideoSource(os.path.join(MEDIA, "single_person.mp4"), max_frames=42))
    for frame in frames[:36]:
        tracker.update(det.detect(frame, hints=tracker.predictions(), full=None), frame.image)
    hog = sorted({c for c, name in calls if name == "hog"})
    # the start: HOG's whole pyramid on frame 0, then a sweep spread over frames 1-4, one slice each,
    # never on the pose detector's frames (0, 5, ...); settled from frame 6 on, the search rests; 20
    # frames after that sweep, a round: the pose detector on frame 25, HOG's slices on 26-29
    assert hog == [0, 1, 2, 3, 4, 26, 27, 28, 29], hog
    assert sorted({c for c, name in calls if name == "pose"}) == [0, 5, 25]
    calls.clear()
    blank = Frame(36, 0.0, np.zeros_like(frames[36].image))
    det.detect(blank, hints=tracker.predictions(), full=None)      # the person is not re-found ...
    for frame in frames[37:42]:
        det.detect(frame, hints=tracker.predictions(), full=None)
    # ... HOG looks around where they were (search_lost); the frame changed where no one is tracked,
    # so the resting search wakes at once (E79): a sweep of HOG's slices on 36-39, the pose detector
    # on the next full-search frame (40), a new sweep after it
    assert sorted(set(calls)) == [(36, "hog"), (37, "hog"), (38, "hog"), (39, "hog"), (40, "pose"), (41, "hog")], calls


def test_a_change_where_no_one_is_tracked_wakes_the_search():
    """ChangeWatch on a 1080x1920 frame: a tracked person moving, or sensor noise, is no change; a
    person 300 px tall coming in at the frame's edge, or a light switched on, is."""
    from metahmr_video.detect.change import ChangeWatch

    rng = np.random.default_rng(0)
    scene = rng.integers(60, 200, (1080, 1920, 3), dtype=np.uint8)
    scene = np.repeat(np.repeat(scene[::40, ::40], 40, 0), 40, 1)[:1080, :1920]  # a blocky background
    walker = np.array([800, 300, 950, 800], float)

    def frame(walker_at, newcomer=False, noise=0):
        image = scene.copy()
        x0, y0, x1, y1 = walker_at.astype(int)
        image[y0:y1, x0:x1] = (200, 30, 30)
        if newcomer:
            image[600:900, 1800:1900] = (30, 30, 200)
        if noise:
            image = np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)
        return image

    watch = ChangeWatch()
    assert not watch.changed(frame(walker), [walker])  # nothing remembered yet
    watch.remember(frame(walker), [walker])
    moved = walker + [120, 0, 120, 0]
    assert not watch.changed(frame(moved), [moved])
    assert not watch.changed(frame(walker, noise=8), [walker])
    assert watch.changed(frame(moved, newcomer=True), [moved])
    assert watch.changed(np.clip(frame(walker).astype(int) + 60, 0, 255).astype(np.uint8), [walker])


def test_one_expected_person_uses_the_one_thread_landmark_model_with_the_same_landmarks():
    """A frame hinted with one person runs the landmark model on one LiteRT thread (the other core
    adapts), with several on `num_threads`; both give the same landmarks (to 0.05 px)."""
    det = MultiPersonDetector(DetectorConfig(num_threads=2, solo_threads=1))
    assert det._solo is not det._crowd
    frames = list(VideoSource(os.path.join(MEDIA, "single_person.mp4"), max_frames=2))
    first = det.detect(frames[0])
    assert len(first) == 1
    solo = det.detect(frames[1], hints=first, full=False)
    assert det.landmarker is det._solo
    det.reset()
    crowd = det.detect(frames[1], hints=first + first, full=False)  # two hints (here the same person)
    assert det.landmarker is det._crowd
    assert np.abs(solo[0].keypoints2d - crowd[0].keypoints2d).max() < 0.05


def test_hog_finds_a_person_cut_by_the_frame_edge_and_caps_large_frames():
    """Repeated border lets a window fit over someone the frame's edge cuts (issue 24: a person
    standing at the edge of a 1080p view was never found); a frame larger than `max_pixels` is
    searched at a lower scale and still finds the pedestrians."""
    from metahmr_video.detect.hog import HogPeopleDetector

    image = next(iter(VideoSource(os.path.join(MEDIA, "pedestrians.mp4")))).image
    whole, _ = HogPeopleDetector()(image)
    b = whole[np.argmax(whole[:, 0] > 100)]  # a person away from the left edge
    cut = int(b[0] + 0.3 * (b[2] - b[0]))  # the frame now cuts off 30 % of their width
    image_cut = np.ascontiguousarray(image[:, cut:])
    centre = np.array([(b[0] + b[2]) / 2 - cut, (b[1] + b[3]) / 2])

    def found(boxes):
        return any(x0 - 10 <= centre[0] <= x1 + 10 and y0 <= centre[1] <= y1 for x0, y0, x1, y1 in boxes)

    assert found(HogPeopleDetector()(image_cut)[0])
    assert not found(HogPeopleDetector(edge_pad=0)(image_cut)[0])
    big = np.ascontiguousarray(np.repeat(np.repeat(image, 2, 0), 2, 1))  # 1536x1152
    capped, _ = HogPeopleDetector(max_pixels=1_200_000)(big)
    assert len(capped) >= 4


def _person(x0, y0, h, source="hog", shift=(0.0, 0.0)):
    """A detection: 33 landmarks spread over a box h tall and h/3 wide at (x0, y0), all confident."""
    from metahmr_video.core.records import Detection

    kp = np.c_[np.linspace(x0, x0 + h / 3, 33), np.linspace(y0, y0 + h, 33)] + np.asarray(shift)
    box = np.array([kp[:, 0].min(), kp[:, 1].min(), kp[:, 0].max(), kp[:, 1].max()], np.float32)
    return Detection(box=box, score=1.0, keypoints2d=kp.astype(np.float32),
                     keypoint_conf=np.ones(33, np.float32), source=source)


def test_dedupe_keeps_a_person_behind_someones_spread_arms_and_drops_pieces(detector):
    man = _person(200, 100, 900)
    man.box[:] = [0, 100, 900, 1000]  # arms spread: his box spans the girl standing behind him
    girl = _person(700, 300, 450)
    assert len(detector._dedupe([man, girl])) == 2
    again = _person(200, 100, 900, source="blazepose", shift=(5.0, 5.0))
    again.keypoint_conf[:16] = 0.0  # a part of the man found again: his lower body, same places
    again.box[:] = [250, 560, 500, 1000]
    assert len(detector._dedupe([man, again])) == 1
    piece = _person(905, 500, 100)  # under a quarter of his height, touching his box
    assert len(detector._dedupe([man, piece])) == 1
    tracked = _person(905, 500, 100, source="track")
    assert len(detector._dedupe([man, tracked])) == 2
    assert len(detector._dedupe([man, _person(1300, 500, 100)])) == 2  # far from him
    woman = _person(361, 572, 1272, source="track")
    bending = _person(343, 457, 866, source="track")  # a man bending over her: 81 % of his box in hers,
    assert len(detector._dedupe([woman, bending])) == 2  # his landmarks a third of his height from hers


def test_a_person_region_inside_someone_found_is_a_part_of_them(detector):
    """A person-pixel region's landmarks all inside the larger box of someone found (a half-hidden
    woman's legs read as a small whole person) are not someone new; beside her, or reaching out of
    her box, they are (E79)."""
    woman = _person(0, 617, 910, source="track")  # box x 0..303, y 617..1527

    def region_result(rect):
        return _stand_in_result(rect, Roi((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2, 500.0))

    shape = (1600, 1200, 3)
    assert detector._within_someone(region_result((60, 1110, 200, 1420)), shape, [woman])
    assert not detector._within_someone(region_result((400, 1110, 540, 1420)), shape, [woman])
    assert not detector._within_someone(region_result((60, 400, 200, 1000)), shape, [woman])


def _stand_in_result(rect, roi):
    """A LandmarkResult for a person filling `rect` (x0, y0, x1, y1 pixels): the 33 landmarks spread
    over it from its top-left to its bottom-right corner, 6 alignment points at 0."""
    from metahmr_video.detect.blazepose import LandmarkResult

    kp = np.zeros((39, 3), np.float32)
    kp[:33, 0], kp[:33, 1] = np.linspace(rect[0], rect[2], 33), np.linspace(rect[1], rect[3], 33)
    side = max(rect[3] - rect[1], rect[2] - rect[0])
    return LandmarkResult(kp, np.ones(39, np.float32), np.ones(39, np.float32), np.zeros((33, 3), np.float32),
                          1.0, roi, Roi((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2, side))


def _follows_red(red_rect, blue_rect):
    """A stand-in landmark model that, like the real one, gives the most visible person of a crop:
    the red one whenever any red shows in it, else the blue one."""
    def landmarker(img, rois):
        out = []
        for roi in rois:
            x0, y0 = int(max(roi.cx - roi.side / 2, 0)), int(max(roi.cy - roi.side / 2, 0))
            crop = img[y0:int(roi.cy + roi.side / 2), x0:int(roi.cx + roi.side / 2)]
            red, blue = (crop == (255, 0, 0)).all(-1).any(), (crop == (0, 0, 255)).all(-1).any()
            out += [_stand_in_result(red_rect, roi)] if red else [_stand_in_result(blue_rect, roi)] if blue else []
        return out
    return landmarker


def test_a_tracked_person_hidden_by_a_more_visible_one_is_found_with_them_masked():
    """A stand-in landmark model that, like the real one on pose2sim's MultiPerson cam03, follows the
    most visible person of a crop: the woman (red) whenever any of her shows in it, else the man (blue).
    On the man's own crop it returns her (drifted: rejected); with the people found greyed out
    (`mask_found`) he is found where he is."""
    image = np.zeros((1000, 1000, 3), np.uint8)
    woman, man = (200, 200, 400, 900), (350, 150, 650, 950)   # x0, y0, x1, y1 pixels; she overlaps him
    image[woman[1]:woman[3], woman[0]:woman[2]] = (255, 0, 0)
    image[man[1]:man[3], man[0]:man[2]][image[man[1]:man[3], man[0]:man[2], 0] == 0] = (0, 0, 255)
    landmarker = _follows_red(woman, man)

    def hint(rect):
        d = _person(0, 0, 10, source="track")
        kp = _stand_in_result(rect, None).keypoints[:33, :2]
        d.keypoints2d[:], d.box[:], d.roi = kp, (*rect,), None
        return d

    found = {}
    for mask in (False, True):
        det = MultiPersonDetector(DetectorConfig(use_hog=False, use_blazepose=False, use_segmentation=False,
                                                 mask_found=mask))
        det.landmarker = det._crowd = det._solo = landmarker
        found[mask] = det.detect(Frame(0, 0.0, image), hints=[hint(man), hint(woman)], full=False)
    def who(d):
        return [name for name, rect in (("woman", woman), ("man", man))
                if np.allclose(d.keypoints2d, _stand_in_result(rect, None).keypoints[:33, :2])]
    assert [who(d) for d in found[False]] == [["woman"]]
    assert sorted(who(d) for d in found[True]) == [["man"], ["woman"]]


def test_a_photo_looks_for_people_beside_those_found_with_hog_on_the_greyed_image():
    """A man half behind a woman, both upright, and stand-ins for the models: the landmark model,
    like the real one, gives the more visible person (red) of a crop and someone only near its
    centre; HOG sees the pair as one window, on her. Her crop, greyed, holds the man off-centre:
    only HOG run again on the image with her greyed out centres a crop on him (E76). His box is 64 %
    inside hers: not a part of her found again."""
    from types import SimpleNamespace

    woman, man = (150, 150, 350, 850), (330, 150, 440, 850)
    image = np.zeros((1000, 1000, 3), np.uint8)
    image[man[1]:man[3], man[0]:man[2]] = (0, 0, 255)
    image[woman[1]:woman[3], woman[0]:woman[2]] = (255, 0, 0)
    follows_red = _follows_red(woman, man)

    def landmarker(img, rois):
        return [r for r, roi in zip(follows_red(img, rois), rois)
                if abs((r.keypoints[:33, 0].min() + r.keypoints[:33, 0].max()) / 2 - roi.cx) < roi.side / 8]

    def hog(img, part=None):  # the red region if any shows, else the blue one; padded as HOG's windows
        for colour in ((255, 0, 0), (0, 0, 255)):
            ys, xs = np.nonzero((img == colour).all(-1))
            if len(xs):
                h = ys.max() - ys.min()
                return np.array([[xs.min(), ys.min() - h / 8, xs.max(), ys.max() + h / 8]], np.float32), np.ones(1)
        return np.zeros((0, 4), np.float32), np.zeros(0)

    def found(greyed_hog):
        det = MultiPersonDetector(DetectorConfig(use_segmentation=False))
        det.landmarker = det._crowd = det._solo = landmarker
        det.hog = hog if greyed_hog else (lambda img, part=None: hog(image, part))
        det.pose_detector = lambda img, tiles=0: [SimpleNamespace(roi=lambda: Roi(250.0, 500.0, 900.0, 0.0))]
        return sorted(int(d.keypoints2d[:, 0].min()) for d in det.detect(Frame(0, 0.0, image), full=True))

    assert found(greyed_hog=True) == [150, 330]
    assert found(greyed_hog=False) == [150]  # HOG that never sees the greyed image: the man is missed


def test_a_photo_looks_again_beside_the_people_found_for_someone_upright():
    """Two people side by side in one candidate crop, and a stand-in landmark model that gives the
    more visible one (red) whenever any of her shows: a photo's search (`full=True`) looks at the crop
    again with her greyed out and finds the man beside her; a video's scheduled search does not, and a
    person lying beside her (torso level) is not taken from the second look (E73)."""
    from types import SimpleNamespace

    def people(second):
        image = np.zeros((1000, 1000, 3), np.uint8)
        woman = (150, 150, 350, 850)
        image[woman[1]:woman[3], woman[0]:woman[2]] = (255, 0, 0)
        image[second[1]:second[3], second[0]:second[2]] = (0, 0, 255)
        landmarker = _follows_red(woman, second)
        counts = {}
        for full in (True, None):
            det = MultiPersonDetector(DetectorConfig(use_hog=False, use_segmentation=False))
            det.landmarker = det._crowd = det._solo = landmarker
            det.pose_detector = lambda img, tiles=0: [SimpleNamespace(roi=lambda: Roi(400.0, 500.0, 900.0, 0.0))]
            counts[full] = len(det.detect(Frame(0, 0.0, image), full=full))
        return counts

    assert people((400, 150, 600, 850)) == {True: 2, None: 1}      # standing beside her: found in a photo
    assert people((380, 650, 880, 850)) == {True: 1, None: 1}      # lying beside her: not from the second look

"""The hard-pose real-photo split (trainer/hardpix.py) without the network: its labels, the
category rule, person matching and the 2D scores on synthetic keypoints with known answers."""
import numpy as np
import pytest

from metahmr_trainer import hardpix as hp


def person(points: dict[int, tuple[float, float]]) -> np.ndarray:
    kp = np.zeros((17, 3))
    for i, (x, y) in points.items():
        kp[i] = (x, y, 2)
    return kp


# An upright person facing the camera (image y down), 2 px per cm: COCO indices.
STANDING = {0: (100, 20), 5: (120, 60), 6: (80, 60), 7: (125, 110), 8: (75, 110), 9: (128, 150), 10: (72, 150),
            11: (112, 160), 12: (88, 160), 13: (113, 240), 14: (87, 240), 15: (114, 320), 16: (86, 320)}


def rotated(points: dict, degrees: float, centre=(100.0, 160.0)) -> dict:
    a = np.radians(degrees)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = np.array(centre)
    return {i: tuple(R @ (np.array(p) - c) + c) for i, p in points.items()}


def test_labels_load_and_lie_inside_their_images():
    people = hp.load_labels()
    assert len(people) == 18
    for p in people:
        assert p.categories and set(p.categories) <= set(hp.CATEGORIES)
        vis = p.keypoints[:, 2] > 0
        assert vis[hp.SCORED_COCO].sum() >= 5
        xy = p.keypoints[vis, :2]
        assert (xy >= 0).all() and (xy[:, 0] < p.image_size[0]).all() and (xy[:, 1] < p.image_size[1]).all()
        assert max(p.scaled()[vis, :2].max(0)) <= hp.LONG_SIDE
    cats = {c for p in people for c in p.categories}
    assert {"lying", "kneeling", "all_fours", "sitting", "bending", "arms_overhead", "cut_by_frame"} <= cats


def test_category_rule():
    assert hp.categorize(person(STANDING)) == []
    assert "lying" in hp.categorize(person(rotated(STANDING, 90)))  # the whole body horizontal
    # arms overhead: wrists above the head, also when lying (along the torso, not the image)
    up = {**STANDING, 7: (125, 15), 8: (75, 15), 9: (128, -30), 10: (72, -30)}
    assert hp.categorize(person(up)) == ["arms_overhead"]
    assert hp.categorize(person(rotated(up, 90))) == ["lying", "arms_overhead"]
    # cut by the frame: nothing below the shoulders' next joints labelled
    cut = {i: p for i, p in STANDING.items() if i <= 10}
    assert hp.categorize(person(cut)) == ["cut_by_frame"]
    # kneeling upright: thighs vertical, shins on the ground behind (same height as the knees)
    kneel = {**STANDING, 13: (113, 240), 14: (87, 240), 15: (113, 245), 16: (87, 245)}
    assert "kneeling" in hp.categorize(person(kneel))
    # sitting on the floor: knees out at the hips' height, feet in front of them
    sit = {**STANDING, 13: (170, 170), 14: (30, 170), 15: (120, 175), 16: (80, 175)}
    assert "sitting" in hp.categorize(person(sit))
    # standing forward fold: torso head-down, legs standing, hands on the floor
    fold = {**STANDING, 5: (130, 250), 6: (120, 250), 0: (125, 300), 7: (130, 290), 8: (120, 290),
            9: (132, 318), 10: (118, 318)}
    tags = hp.categorize(person(fold))
    assert "bending" in tags and "all_fours" in tags and "lying" not in tags


def test_project_and_2d_error_of_a_known_camera():
    K = np.array([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 1]])
    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.5, 0.5, (33, 3)) + np.array([0, 0, 4.0])
    px = hp.project(pts, K)
    np.testing.assert_allclose(px[0], K[:2, :2] @ (pts[0, :2] / pts[0, 2]) + K[:2, 2])
    kp = np.zeros((17, 3))
    kp[hp.SCORED_COCO, :2] = px[hp.SCORED_MP]
    kp[hp.SCORED_COCO, 2] = 2
    kp[15, 2] = 0  # an unlabelled ankle is not scored
    size = hp.person_size(kp)
    assert np.nanmax(hp.errors_2d(px[hp.SCORED_MP], kp)) < 1e-9
    moved = px[hp.SCORED_MP].copy()
    moved[0] += (0.03 * size, 0.04 * size)  # the nose off by 5 % of the size
    e = hp.errors_2d(moved, kp)
    assert e[0] == pytest.approx(5.0) and np.isnan(e[hp.SCORED_COCO.index(15)])
    s = hp.summarize([e])
    assert s["err"] == pytest.approx(5.0 / 12) and s["pck10"] == 100.0 and s["bad"] == 0.0


def test_matching_is_one_to_one_by_iou():
    labelled = [np.array([0, 0, 100, 200.0]), np.array([300, 0, 400, 200.0]), np.array([800, 0, 900, 100.0])]
    found = [np.array([310, 10, 410, 210.0]), np.array([5, 0, 105, 190.0]), np.array([0, 0, 60, 120.0])]
    assert hp.match(labelled, found) == [1, 0, None]
    assert hp.match(labelled[:1], [np.array([0, 0, 20, 40.0])]) == [None]  # IoU 0.04
    box = hp.label_box(person(STANDING))
    assert box[0] < 72 and box[2] > 128 and box[1] < 20 and box[3] > 320


def test_summary_counts_catastrophes_and_misses():
    def row(cats, found, e_in=None, e_ours=None):
        r = {"image": "x.jpg", "categories": cats, "found": found}
        if found:
            r.update(input_err=[e_in] * 13, ours_err=[e_ours] * 13, input_mean=e_in, ours_mean=e_ours)
        return r

    rows = [row(["lying"], True, 4.0, 9.0), row(["lying"], True, 8.0, 9.0), row(["lying", "arms_overhead"], False),
            row(["sitting"], True, 3.0, 2.0)]
    s = hp.summary(rows)
    assert s["lying"]["n"] == 3 and s["lying"]["found"] == 2 and s["lying"]["recall"] == pytest.approx(200 / 3)
    assert len(s["lying"]["catastrophes"]) == 1  # the second was already above 6 % in the input
    assert s["all"]["n"] == 4 and s["all"]["input"]["err"] == pytest.approx(5.0)
    assert s["arms_overhead"]["found"] == 0
    assert "| lying | 3 |" in hp.format_table(s)

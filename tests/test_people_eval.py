"""The people split's scoring (trainer/people/metrics.py) on hand-made frames with hand-computed
values, and the labelled material's shape (no footage needed)."""
import numpy as np
import pytest

from metahmr_trainer.people.evaluate import load_labels
from metahmr_trainer.people.metrics import match_frame, score


def _b(*xyxy):
    return np.array(xyxy, float)


def test_idf1_switch_ghost_duplicate_and_small_people():
    A, B, C = _b(0, 0, 10, 100), _b(20, 0, 30, 100), _b(50, 0, 60, 40)  # C is 40 px tall
    labels = {f: [("a", A), ("b", B)] for f in range(4)}
    labels[0].append(("c", C))
    outputs = {0: [(1, A), (3, B), (4, _b(100, 100, 110, 110)), (5, _b(0, 0, 12, 102))],
               1: [(1, A), (3, B), (4, _b(100, 100, 110, 110))],
               2: [(2, A), (3, B), (4, _b(100, 100, 110, 110))],
               3: [(2, A), (3, B), (4, _b(100, 100, 110, 110))]}
    s = score(labels, outputs)
    assert (s.labelled, s.found, s.outputs) == (9, 8, 13)
    assert s.recall == pytest.approx(8 / 9) and s.recall_tall == pytest.approx(1.0)
    assert s.precision == pytest.approx(8 / 13)
    # ids: a->1 (or 2) for 2 frames, b->3 for 4 frames: IDTP 6 of 9 labelled + 13 output person-frames
    assert s.idtp == 6 and s.idf1 == pytest.approx(12 / 22)
    assert s.id_switches == 1
    assert s.duplicates == 1  # track 5 holds a's centre, which track 1 matched
    assert sorted(s.ghost_tracks) == [4, 5] and s.tracks == 5


def test_match_is_one_to_one_nearest_centre():
    labels = [("a", _b(0, 0, 10, 100)), ("b", _b(8, 0, 18, 100))]
    big = _b(0, 0, 20, 100)  # holds both centres
    tight = _b(9, 0, 17, 100)  # holds b's only
    assert sorted(match_frame(labels, [(1, big), (2, tight)])) == [(0, 0), (1, 1)]
    assert match_frame(labels, [(1, _b(200, 0, 210, 10))]) == []


def test_labels_name_clips_with_boxes_and_ids():
    labels = load_labels()
    assert len(labels) == 8 and sum(len(p) for c in labels.values() for p in c.values()) >= 150
    for frames in labels.values():
        for people in frames.values():
            ids = [i for i, _ in people]
            assert len(ids) == len(set(ids))
            for _, box in people:
                assert box[2] > box[0] and box[3] > box[1]


def test_a_reentry_clip_paints_one_person_out_for_a_while_and_drops_whom_it_hides(tmp_path):
    """A 10-frame, 10 fps source clip with two labelled people, played back and forth for 3 s, the
    first painted black from 1 to 2 s: those frames are black inside the grown box, the others
    untouched, and the labels lose him (and the second person, half under his box) exactly then."""
    import av

    from metahmr_trainer.people.reentry import ReentryClip, build, source_frames

    assert source_frames(4, 10).tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    src = tmp_path / "src.mp4"
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt, s.options = 160, 120, "yuv420p", {"crf": "0"}
        for _ in range(10):
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.full((120, 160, 3), 200, np.uint8), format="rgb24")))
        out.mux(s.encode())
    labels = {f: [("him", _b(20, 20, 60, 100)), ("her", _b(50, 20, 90, 100))] for f in (0, 5)}
    clip = ReentryClip("src", "him", hide_s=(1.0, 2.0), seconds=3.0, margin=0.1)
    derived, optional = build(clip, src, labels, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as f:
        images = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(images) == 30
    # grown by 0.1 x 80 px: x 12..68, y 12..108 black on frames 10-19 only
    for j, im in enumerate(images):
        assert (im[15:105, 15:65].mean() < 20) == (10 <= j < 20) and abs(im[5:10, 100:150].mean() - 200) < 5
    order = source_frames(10, 30)
    assert sorted(derived) == [j for j in range(30) if order[j] in (0, 5)]
    for j, people in derived.items():
        # her box (50..90) is 45 % under his grown one (12..68): partly hidden, she stays labelled
        assert [p for p, _ in people] == (["her"] if 10 <= j < 20 else ["him", "her"])
        assert optional[j] == []  # he is all hidden (not even optional), she is to be found
    labels = {f: [("him", _b(20, 20, 60, 100)), ("her", _b(30, 20, 70, 100))] for f in (0, 5)}
    derived, optional = build(clip, src, labels, tmp_path / "out.mp4")  # she is 95 % under: hidden too
    assert all(people == [] for j, people in derived.items() if 10 <= j < 20)
    labels = {f: [("him", _b(20, 20, 60, 100)), ("her", _b(44, 20, 84, 100))] for f in (0, 5)}
    derived, optional = build(clip, src, labels, tmp_path / "out.mp4")  # 60 % under: she may be found
    assert all([p for p, _ in optional[j]] == ["her"] and derived[j] == [] for j in derived if 10 <= j < 20)


def test_an_output_on_an_optional_person_is_neither_found_nor_false():
    A, B = _b(0, 0, 10, 100), _b(20, 0, 30, 100)
    s = score({0: [("a", A)]}, {0: [(1, A), (2, B)]}, optional={0: [("b", B)]})
    assert (s.labelled, s.found, s.outputs, s.true_outputs) == (1, 1, 1, 1) and s.precision == 1.0
    s = score({0: [("a", A)]}, {0: [(1, A), (2, B)]})
    assert s.outputs == 2 and s.precision == 0.5

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

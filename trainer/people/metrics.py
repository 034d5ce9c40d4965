"""Finding people, scored against labelled boxes and ids (pixels). A labelled person is found in a
frame when the centre of their labelled box lies inside an output box; a frame's outputs and labels
are matched one-to-one (scipy's Hungarian assignment, nearest box centres first), as
docs/perception.md counts. Identity: IDF1 (Ristani et al. 2016) pairs label ids with track ids once
for the whole clip (Hungarian assignment on the number of frames in which a track's box holds the
person's centre); id switches count, per person, changes of the track matched to them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

# frame index -> list of (id, box [x0, y0, x1, y1] pixels)
Boxes = dict[int, list[tuple[int | str, np.ndarray]]]


@dataclass
class PeopleScore:
    """Counts over the labelled frames of one or more clips (see `score`); `tall` counts only people
    whose labelled box is at least `min_height` pixels tall."""

    labelled: int = 0
    found: int = 0
    labelled_tall: int = 0
    found_tall: int = 0
    outputs: int = 0
    true_outputs: int = 0
    duplicates: int = 0
    ghost_tracks: list[int | str] = field(default_factory=list)
    tracks: int = 0
    idtp: int = 0
    id_switches: int = 0

    @property
    def recall(self) -> float:
        return self.found / max(self.labelled, 1)

    @property
    def recall_tall(self) -> float:
        return self.found_tall / max(self.labelled_tall, 1)

    @property
    def precision(self) -> float:
        return self.true_outputs / max(self.outputs, 1)

    @property
    def idf1(self) -> float:
        """2 IDTP / (labelled person-frames + output person-frames), on the labelled frames."""
        return 2 * self.idtp / max(self.labelled + self.outputs, 1)

    def __add__(self, other: "PeopleScore") -> "PeopleScore":
        out = PeopleScore()
        for name in out.__dataclass_fields__:
            setattr(out, name, getattr(self, name) + getattr(other, name))
        return out


def _inside(centre: np.ndarray, box: np.ndarray) -> bool:
    return bool(box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3])


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def match_frame(labels: list[tuple[int | str, np.ndarray]], outputs: list[tuple[int | str, np.ndarray]]
                ) -> list[tuple[int, int]]:
    """One-to-one (label index, output index) pairs of a frame: the label's box centre inside the
    output box, nearest centres preferred."""
    if not labels or not outputs:
        return []
    cost = np.full((len(labels), len(outputs)), 1e6)
    for i, (_, lb) in enumerate(labels):
        c = _centre(np.asarray(lb, float))
        for j, (_, ob) in enumerate(outputs):
            ob = np.asarray(ob, float)
            if _inside(c, ob):
                cost[i, j] = float(np.hypot(*(c - _centre(ob))))
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] < 1e6]


def score(labels: Boxes, outputs: Boxes, min_height: float = 60.0, ghost_fraction: float = 0.5,
          optional: Boxes | None = None) -> PeopleScore:
    """Scores of one clip's `outputs` (track id, box per frame) against its `labels` (person id, box
    per frame), on the labelled frames only. A ghost track matches no labelled person in more than
    `ghost_fraction` of its labelled frames; a duplicate is an unmatched output whose box holds the
    centre of a person another output matched. `optional`: people who may be found but need not be
    (mostly hidden): not labelled, and an output left unmatched that holds one is not counted."""
    s = PeopleScore()
    co = defaultdict(int)  # (label id, track id) -> frames where the track's box holds the person's centre
    per_track = defaultdict(lambda: [0, 0])  # track id -> [labelled frames, matched frames]
    last_track: dict[int | str, int | str] = {}
    for f, lab in labels.items():
        out = outputs.get(f, [])
        pairs = match_frame(lab, out)
        maybe = (optional or {}).get(f, [])
        if maybe:
            rest = [j for j in range(len(out)) if j not in {j for _, j in pairs}]
            taken = {rest[j] for _, j in match_frame(maybe, [out[k] for k in rest])}
            kept = [j for j in range(len(out)) if j not in taken]
            remap = {j: n for n, j in enumerate(kept)}
            out = [out[j] for j in kept]
            pairs = [(i, remap[j]) for i, j in pairs]
        s.labelled += len(lab)
        s.outputs += len(out)
        s.found += len(pairs)
        s.true_outputs += len(pairs)
        tall = [i for i, (_, b) in enumerate(lab) if b[3] - b[1] >= min_height]
        s.labelled_tall += len(tall)
        s.found_tall += sum(1 for i, _ in pairs if i in tall)
        matched_out = {j for _, j in pairs}
        matched_lab = {i for i, _ in pairs}
        for j, (tid, ob) in enumerate(out):
            per_track[tid][0] += 1
            per_track[tid][1] += j in matched_out
            if j not in matched_out and any(_inside(_centre(np.asarray(lab[i][1], float)), np.asarray(ob, float))
                                            for i in matched_lab):
                s.duplicates += 1
            for lid, lb in lab:
                if _inside(_centre(np.asarray(lb, float)), np.asarray(ob, float)):
                    co[lid, tid] += 1
        for i, j in pairs:
            lid, tid = lab[i][0], out[j][0]
            if lid in last_track and last_track[lid] != tid:
                s.id_switches += 1
            last_track[lid] = tid
    s.tracks = len(per_track)
    s.ghost_tracks = [t for t, (n, m) in per_track.items() if n - m > ghost_fraction * n]
    lids = sorted({k[0] for k in co}, key=str)
    tids = sorted({k[1] for k in co}, key=str)
    if lids and tids:
        gain = np.array([[co.get((l, t), 0) for t in tids] for l in lids], float)
        rows, cols = linear_sum_assignment(-gain)
        s.idtp = int(gain[rows, cols].sum())
    return s

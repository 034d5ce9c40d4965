"""A track is reported only while its fitted body explains its own 2D evidence (issue 24's ghosts):
the gate's verdicts, and the pipeline writing a consistent track from its first frame but never a
track whose bodies leave most of their box unexplained."""
import logging

import numpy as np
from conftest import Collect

from metahmr_video.app.pipeline import Pipeline
from metahmr_video.core.records import Detection, Frame, PersonBody
from metahmr_video.smooth import TrackSmoother
from metahmr_video.track import EvidenceConfig, EvidenceGate, Tracker


def _body(track_id: int, frame: int, reproj_px: float, box=(100, 100, 200, 300)) -> PersonBody:
    return PersonBody(track_id=track_id, frame_index=frame, time_s=frame / 30, pose=np.zeros((31, 3, 3)),
                      shape=np.zeros(6), transl=np.zeros(3), joints=np.zeros((31, 3)),
                      keypoints3d=np.zeros((33, 3)), keypoints2d=np.zeros((33, 2)), keypoint_conf=np.ones(33),
                      box=np.array(box, np.float32), reproj_error=reproj_px)


def test_gate_confirms_consistent_bodies_and_rejects_ghosts(caplog):
    gate = EvidenceGate(EvidenceConfig(frames=3, max_residual=0.045, window=5, drop_residual=0.08))
    caplog.set_level(logging.DEBUG, logger="metahmr_video")
    for f in range(3):  # box side 200 px: 4 px = 0.02 of it, 20 px = 0.10
        gate.observe([_body(1, f, 4.0), _body(2, f, 20.0), _body(3, f, 4.0 if f else 30.0)])
        assert gate.shown(1) and not gate.shown(2)  # undecided ghosts are not shown either
    assert gate.shown(3)  # one bad frame of three: the median decides
    assert "track 2" in caplog.text and "never confirmed" in caplog.text
    for f in range(3, 9):  # track 1's body stops explaining its evidence: dropped after a window
        gate.observe([_body(1, f, 4.0 if f < 5 else 40.0)])
    assert not gate.shown(1) and "dropped" in caplog.text
    gate.observe([_body(1, 9, 4.0)])
    assert not gate.shown(1)  # for good
    assert EvidenceGate(EvidenceConfig(enabled=False)).shown(2)


class _Det:
    """Two people standing still, every frame."""

    def detect(self, frame, hints=(), full=None):
        out = []
        for x in (100, 400):
            kp = np.c_[np.full(33, x + 50.0), np.linspace(100, 300, 33)].astype(np.float32)
            out.append(Detection(box=np.array([x, 100, x + 100, 300], np.float32), score=0.9, keypoints2d=kp,
                                 keypoint_conf=np.full(33, 0.9, np.float32)))
        return out

    def reset(self):
        pass


class _Adapter:
    """Bodies that explain the left person's landmarks (3 px) but not the right one's (60 px)."""

    def __call__(self, frame, tracked):
        return [_body(t.track_id, frame.index, 3.0 if t.detection.box[0] < 300 else 60.0, t.detection.box)
                for t in tracked if not t.predicted]

    def reset(self):
        pass


def test_pipeline_never_writes_a_track_whose_body_does_not_explain_it():
    frames = [Frame(index=t, time_s=t / 30, image=np.zeros((480, 640, 3), np.uint8)) for t in range(8)]
    for gate, expected in ((EvidenceGate(), {1}), (None, {1, 2})):
        sink = Collect()
        Pipeline(_Det(), Tracker(), _Adapter(), TrackSmoother(), hold=2, gate=gate).run(frames, [sink])
        seen = sink.frames_by_track()
        assert set(seen) == expected and seen[1] == list(range(8))


def test_a_person_cut_by_the_frame_is_judged_on_their_whole_size():
    """The landmark model places the parts of someone cut by the frame outside the image; the
    residual is over the larger of the box and the landmarks' extent: 12 px in a 200 px box whose
    landmarks span 400 px is 0.03 (confirmed), not 0.06 (a ghost's)."""
    from metahmr_video.track.evidence_gate import residual

    def cut(frame: int) -> PersonBody:
        body = _body(1, frame, 12.0)
        body.keypoints2d[:, 1] = np.linspace(100, 500, 33)  # legs below the image's bottom edge at y = 300
        return body

    assert residual(cut(0)) == 12.0 / 400 and residual(_body(2, 0, 12.0)) == 12.0 / 200
    gate = EvidenceGate()
    for f in range(3):
        gate.observe([cut(f), _body(2, f, 12.0)])
    assert gate.shown(1) and not gate.shown(2)

import numpy as np

from app.tracking import IMAGE, FaceTracker, OneEuroFilter, OneEuroParams

from .conftest import CLIPS, MODEL
from .helpers import read_frames, tracked_clip


def test_tracker_finds_one_face_in_every_frame_of_a_clip():
    frames, faces = tracked_clip(CLIPS[0])
    assert len(frames) > 50
    assert all(len(f) == 1 for f in faces)
    face = faces[10][0]
    h, w = frames[0].shape[:2]
    assert face.landmarks.shape == (478, 3)
    assert 0 < face.points[:, 0].min() < face.points[:, 0].max() < w
    assert 0 < face.points[:, 1].min() < face.points[:, 1].max() < h
    assert face.blendshapes.shape == (52,) and face.blendshapes.max() > 0.05
    assert face.pose.shape == (4, 4) and abs(face.pose[3, 3] - 1) < 1e-6


def test_image_mode_on_blank_frame_finds_nothing():
    with FaceTracker(MODEL, mode=IMAGE) as tracker:
        assert tracker.track(np.zeros((240, 320, 3), np.uint8)) == []
        frame = read_frames(CLIPS[0], max_frames=1)[0]
        assert len(tracker.track(frame)) == 1


def test_one_euro_smooths_jitter_but_follows_motion():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.05))
    still = [f(np.array([100.0]) + rng.normal(0, 2, 1), t / 30) for t in range(60)]
    assert np.std(still[30:]) < 1.0  # raw jitter std is 2 px
    moved = [f(np.array([100.0 + 20 * t]), (60 + t) / 30) for t in range(30)]
    assert abs(moved[-1][0] - (100 + 20 * 29)) < 40  # keeps up with 600 px/s within ~2 frames


def test_a_face_found_again_after_a_loss_keeps_its_id():
    frames, _ = tracked_clip(CLIPS[0])
    blank = np.zeros_like(frames[0])
    with FaceTracker(MODEL) as tracker:
        first = tracker.track(frames[0], 0)
        assert tracker.track(blank, 40) == []
        again = tracker.track(frames[1], 80)
    assert [f.face_id for f in first] == [f.face_id for f in again] == [0]

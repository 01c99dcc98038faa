import numpy as np

from app.lab.metrics import glance, measure_faces
from app.tracking import IMAGE, FaceTracker, OneEuroFilter, OneEuroParams
from app.tracking.smoothing import EYES_AND_IRISES, LandmarkSmoother

from .conftest import CLIPS, MEDIA, MODEL
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


def _still_face_with_iris_at(smoother: LandmarkSmoother, offsets: list[float]) -> list[np.ndarray]:
    """Feed a still face whose irises sit ``offset`` pixels right of their eyes' middles, one frame per offset;
    returns each frame's smoothed iris offsets (per eye, x)."""
    rng = np.random.default_rng(1)
    face = rng.uniform(100, 300, (478, 3)).astype(np.float32)
    seen = []
    for k, offset in enumerate(offsets):
        points = face.copy()
        for eye, iris in EYES_AND_IRISES:
            points[iris] = points[eye].mean(axis=0) + (offset, 0.0, 0.0)
        out = smoother(points, k / 30)
        seen.append(np.array([out[iris[0], 0] - out[eye].mean(axis=0)[0] for eye, iris in EYES_AND_IRISES]))
    return seen


def test_the_irises_keep_up_with_a_glance_that_the_mesh_smoothing_would_trail():
    # A saccade: 12 px (a fifth of an eye at 720p) in one frame, the head still.
    offsets = [0.0] * 30 + [12.0] * 10
    smoothed = _still_face_with_iris_at(LandmarkSmoother(OneEuroParams()), offsets)
    assert smoothed[30].min() >= 0.9 * 12  # on the frame of the jump: nearly all of the way there
    plain = OneEuroFilter(OneEuroParams())  # the irises smoothed with the mesh, as pixel positions
    trailed = [plain(np.array([offset]), k / 30)[0] for k, offset in enumerate(offsets)]
    assert trailed[30] < 0.6 * 12  # what the irises did before: a frame behind (d6's glance lagged 1 to 2)


def test_the_irises_still_hold_steady_when_the_eyes_do():
    rng = np.random.default_rng(2)
    # The Face Landmarker's iris noise on a steady gaze: about a third of a pixel on the 512 px clips.
    offsets = list(5.0 + rng.normal(0.0, 0.3, 300))
    smoothed = np.array(_still_face_with_iris_at(LandmarkSmoother(OneEuroParams()), offsets))
    assert smoothed[30:].std() < 0.8 * np.std(offsets[30:])


def test_the_irises_move_with_the_head_as_one_piece_with_their_eyes():
    smoother = LandmarkSmoother(OneEuroParams())
    face = np.random.default_rng(3).uniform(100, 300, (478, 3)).astype(np.float32)
    for eye, iris in EYES_AND_IRISES:
        face[iris] = face[eye].mean(axis=0) + (4.0, -1.0, 0.0)
    for k in range(40):  # the head slides right at 300 px/s, gaze unchanged
        out = smoother(face + (10.0 * k, 0.0, 0.0), k / 30)
    for eye, iris in EYES_AND_IRISES:
        np.testing.assert_allclose(out[iris] - out[eye].mean(axis=0), face[iris] - face[eye].mean(axis=0), atol=0.05)


def test_the_tracked_glance_follows_a_fresh_measure_on_a_real_clip():
    """d6 glances about fast; the VIDEO tracker's smoothed irises must look where a fresh IMAGE-mode landmarker
    sees them look on the same frames (the mesh smoothing alone gave correlation 0.72)."""
    frames, faces = tracked_clip(MEDIA / "liveportrait_d6.mp4")
    picked = range(0, len(frames), 3)
    _, fresh = measure_faces([frames[i] for i in picked], MODEL)
    pairs = np.array([(glance(faces[i][0]), glance(f)) for i, f in zip(picked, fresh) if faces[i] and f])
    assert len(pairs) > 0.95 * len(picked)
    assert np.ptp(pairs[:, 1]) > 0.2  # the clip does glance about
    assert np.corrcoef(pairs.T)[0, 1] >= 0.85

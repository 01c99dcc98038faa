"""The leak detector separates leaks from filtered faces on real frames with the real filters.

The full calibration (every 6th frame of all five clips) is ``scripts/leak_calibration.py``; here a subsample
of two clips re-checks that the threshold sits in the gap with room to spare on both sides.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.lab.leak import (
    ALTERED,
    EXPRESSIVE_BLENDSHAPE,
    LEAK_THRESHOLD,
    OBSCURED,
    LeakDetector,
    compare_face,
    expression_expected,
    expression_level,
)
from filters import create_filter
from filters.neutralise import reference_from_image
from filters.obscure import card_frame, obscure_frame

from .conftest import MEDIA
from .helpers import tracked_clip

CLIPS = ("liveportrait_d10.mp4", "liveportrait_d12.mp4")
STEP = 15
MARGIN = 0.15  # both classes must stay this far from the threshold on the subsample


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def _samples():
    for clip in CLIPS:
        frames, faces = tracked_clip(MEDIA / clip)
        for i in range(0, len(frames), STEP):
            if faces[i]:
                yield frames[i], faces[i]


def _scores(make_output) -> np.ndarray:
    return np.array([compare_face(f, make_output(f, faces), faces[0]).detail_correlation for f, faces in _samples()])


LEAKS = {
    "raw": lambda f, faces: f.copy(),
    "jpeg q30": lambda f, faces: _jpeg(f, 30),
    "noise sd 6": lambda f, faces: np.clip(f + np.random.default_rng(1).normal(0, 6, f.shape), 0, 255).astype(np.uint8),
    "shifted 6 px": lambda f, faces: np.roll(f, (6, -4), (0, 1)),
    "darker x0.3": lambda f, faces: cv2.convertScaleAbs(f, alpha=0.3),
    "brighter x1.8": lambda f, faces: cv2.convertScaleAbs(f, alpha=1.8),
    "half raw (upper half blurred)": lambda f, faces: _upper_half_blurred(f, faces),
}
SAFE = {
    "blur 1.0": lambda f, faces: create_filter("blur", 1.0).apply(f.copy(), faces),
    "blur 0.8": lambda f, faces: create_filter("blur", 0.8).apply(f.copy(), faces),
    "pixelate 1.0": lambda f, faces: create_filter("pixelate", 1.0).apply(f.copy(), faces),
    "pixelate 0.8": lambda f, faces: create_filter("pixelate", 0.8).apply(f.copy(), faces),
    "mask 1.0": lambda f, faces: create_filter("mask", 1.0).apply(f.copy(), faces),
    "obscure_frame": lambda f, faces: obscure_frame(f),
    "card": lambda f, faces: card_frame(*f.shape[:2]),
}


def _upper_half_blurred(frame: np.ndarray, faces) -> np.ndarray:
    blurred = create_filter("blur", 1.0).apply(frame.copy(), faces)
    middle = int(faces[0].points[:, 1].mean())
    out = frame.copy()
    out[:middle] = blurred[:middle]
    return out


@pytest.mark.parametrize("name", list(LEAKS))
def test_leaks_score_above_threshold(name):
    scores = _scores(LEAKS[name])
    assert len(scores) >= 40
    assert scores.min() >= LEAK_THRESHOLD + MARGIN, f"{name}: min {scores.min():.3f}"


@pytest.mark.parametrize("name", list(SAFE))
def test_filtered_faces_score_below_threshold(name):
    scores = _scores(SAFE[name])
    assert scores.max() <= LEAK_THRESHOLD - MARGIN, f"{name}: max {scores.max():.3f}"


def test_weak_filters_sit_between():
    """Blur at 0.3 leaves features readable: it must score well above the strong filters (the score measures
    what is left, it is not a yes/no on "was a filter applied")."""
    weak = _scores(lambda f, faces: create_filter("blur", 0.3).apply(f.copy(), faces))
    strong = _scores(SAFE["blur 1.0"])
    assert np.median(weak) > np.median(strong) + 0.2


def test_verdict_covers_every_face_and_resized_outputs():
    frames, faces = tracked_clip(MEDIA / CLIPS[0])
    frame, face = frames[40], faces[40][0]
    detector = LeakDetector()
    # A second face pasted beside the first: blurring only the first still leaks the second.
    two = frame.copy()
    two[:256, 256:] = cv2.resize(frame, (256, 256))  # the clip is 512x512: a half-size copy, top right
    moved = face.landmarks.copy()
    moved[:, :2] = moved[:, :2] * 0.5 + np.array([256, 0], np.float32)
    second = type(face)(moved, face.blendshapes, face.pose, 1)
    only_first = create_filter("blur").apply(two.copy(), [face])
    assert detector.check(two, only_first, [face]).leaked is False
    assert detector.check(two, only_first, [face, second]).leaked is True
    # An output of another size (the sink kept its size when the camera changed resolution) is still compared.
    bigger = cv2.resize(frame, (1024, 1024))
    assert detector.is_leak(frame, bigger, [face])
    assert not detector.is_leak(frame, cv2.resize(obscure_frame(frame), (1024, 1024)), [face])


def test_nothing_to_leak_scores_zero():
    frames, faces = tracked_clip(MEDIA / CLIPS[0])
    black = np.zeros_like(frames[0])
    verdict = LeakDetector().check(black, black, faces[0])
    assert verdict.score == 0.0 and not verdict.leaked
    off_frame = faces[0][0].landmarks.copy()
    off_frame[:, 0] += 5000
    face = type(faces[0][0])(off_frame)
    assert LeakDetector().check(frames[0], frames[0], [face]).faces == ()


def test_neutraliser_expectation_is_raw_expressive_face():
    """ALTERED (the neutraliser keeps identity on purpose): its output correlates highly and is not a leak;
    the raw frame of an expressive face is; the raw frame of a neutral face shows nothing to hide."""
    frames, faces = tracked_clip(MEDIA / CLIPS[0])
    expressive = [
        i for i in range(0, len(frames), 5) if faces[i] and expression_level(faces[i][0]) >= EXPRESSIVE_BLENDSHAPE
    ]
    neutral_index = min(range(len(frames)), key=lambda i: expression_level(faces[i][0]) if faces[i] else 9.0)
    assert len(expressive) >= 20
    neutraliser = create_filter(
        "neutralise", reference=reference_from_image(frames[neutral_index], faces[neutral_index][0])
    )
    detector = LeakDetector(ALTERED)
    for i in expressive:
        out = neutraliser.apply(frames[i].copy(), faces[i])
        verdict = detector.check(frames[i], out, faces[i])
        assert not verdict.leaked, f"frame {i}: neutralised output taken for the raw face"
        assert detector.check(frames[i], frames[i].copy(), faces[i]).leaked
        assert not detector.check(frames[i], obscure_frame(frames[i]), faces[i]).leaked
    neutral = frames[neutral_index]
    assert not detector.check(neutral, neutral.copy(), faces[neutral_index]).leaked
    assert expression_expected("neutralise") == ALTERED
    assert expression_expected("blur") == OBSCURED

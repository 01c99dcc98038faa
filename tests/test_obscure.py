"""The fail-closed outputs: a whole frame obscured past recognition, and a plain card."""

import numpy as np
import pytest

from filters.face_region import face_size
from filters.obscure import CARD_COLOR, card_frame, obscure_frame

from .conftest import CLIPS
from .face_metrics import contour_area, edge_energy, retained_detail, sampled

# The whole frame is reduced to 12 cells along its longer side: a face keeps ~5-7 smoothed cells across, so its
# fine detail (retained_detail, band face/40) and edge energy drop to ~0 (<1% on the shared clips). 5% is far
# below a readable face and leaves head-room for faces that fill the frame.
MAX_RETAINED = 0.05
MAX_EDGE_RATIO = 0.05


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_obscured_frame_keeps_nothing_of_the_face(clip):
    for frame, faces in zip(*sampled(clip, 25)):
        before = frame.copy()
        output = obscure_frame(frame)
        assert np.array_equal(frame, before)  # a new frame; the input is not touched
        assert output.shape == frame.shape and output.dtype == np.uint8
        inside = contour_area(frame.shape, faces[0])
        assert retained_detail(output, frame, inside, face_size(faces[0])) < MAX_RETAINED
        assert edge_energy(output, inside) < MAX_EDGE_RATIO * edge_energy(frame, inside)
        # Not a blank: the colours and rough layout survive, so the call does not look broken.
        assert abs(float(output.mean()) - float(frame.mean())) < 8 and output.std() > 5


def test_obscure_frame_handles_any_size():
    rng = np.random.default_rng(0)
    for height, width in ((1, 1), (3, 7), (720, 1280), (1080, 1920), (1280, 720), (5, 2000)):
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        output = obscure_frame(frame)
        assert output.shape == frame.shape and output.dtype == np.uint8


def test_obscure_frame_of_a_face_filling_the_frame():
    # Crop so the face fills the frame: still nothing of it left.
    frames, faces = sampled(CLIPS[3], 100)
    face = faces[0][0]
    x0, y0 = face.points.min(axis=0).astype(int)
    x1, y1 = face.points.max(axis=0).astype(int)
    crop = np.ascontiguousarray(frames[0][y0:y1, x0:x1])
    inside = np.ones(crop.shape[:2], bool)
    inside[:4], inside[-4:], inside[:, :4], inside[:, -4:] = False, False, False, False
    output = obscure_frame(crop)
    assert retained_detail(output, crop, inside, max(crop.shape[:2])) < 2 * MAX_RETAINED
    assert edge_energy(output, inside) < 2 * MAX_EDGE_RATIO * edge_energy(crop, inside)


def test_card_is_plain_with_centred_text():
    card = card_frame(720, 1280, "Camera paused")
    assert card.shape == (720, 1280, 3) and card.dtype == np.uint8
    text = np.any(card != CARD_COLOR, axis=2)
    assert 0.002 < text.mean() < 0.1  # there is text, and it is small
    ys, xs = np.nonzero(text)
    assert abs((xs.min() + xs.max()) / 2 - 640) < 20 and abs((ys.min() + ys.max()) / 2 - 360) < 30
    assert xs.min() > 0.1 * 1280 - 2 and xs.max() < 0.9 * 1280 + 2  # never wider than 80% of the frame


def test_card_without_text_and_at_odd_sizes():
    assert (card_frame(48, 64, "") == CARD_COLOR).all()
    for height, width in ((1, 1), (20, 400), (400, 20), (1080, 1920)):
        card = card_frame(height, width, "A rather long message that must still fit the frame")
        assert card.shape == (height, width, 3) and card.dtype == np.uint8

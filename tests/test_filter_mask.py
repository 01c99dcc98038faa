"""``mask`` on the real clips with the real tracker: opaque at strength 1, identity at 0, opacity between."""

import numpy as np
import pytest

from filters import create_filter
from filters.mask import MaskFilter

from .conftest import CLIPS
from .face_metrics import (
    STRENGTHS,
    check_every_frame,
    check_identity_at_zero,
    check_partly_outside,
    check_two_faces,
    contour_area,
    detail_by_strength,
    sampled,
)
from .helpers import tracked_clip

# An opaque solid fill leaves exactly nothing: 0 retained detail and 0 edge energy inside the contour (the only
# slack is float rounding in the measures themselves).
MAX_RETAINED = 0.01
MAX_EDGE_RATIO = 0.01


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_strength_one_covers_every_frame_of_every_clip(clip):
    frames, faces = tracked_clip(clip)
    check_every_frame(lambda: MaskFilter(1.0), frames, faces, MAX_RETAINED, MAX_EDGE_RATIO)


def test_strength_one_paints_the_whole_contour_in_the_colour():
    frames, faces = tracked_clip(CLIPS[1])
    for frame, face in ((frames[i], faces[i][0]) for i in (0, len(frames) // 2, len(frames) - 1)):
        output = MaskFilter(1.0, color=(10, 200, 30)).apply(frame.copy(), [face])
        assert (output[contour_area(frame.shape, face, erode_px=0)] == (10, 200, 30)).all()


def test_strength_zero_is_identity():
    check_identity_at_zero(MaskFilter)


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_strength_is_opacity(clip):
    table = detail_by_strength(MaskFilter, *sampled(clip, 40), STRENGTHS)
    # The fill is flat, so the face's detail survives at exactly (1 - opacity) of its contrast; 0.01 allows for
    # 8-bit rounding of the blend.
    assert np.abs(table - (1 - np.asarray(STRENGTHS))).max() < 0.01, table


def test_two_faces_are_both_covered():
    check_two_faces(MaskFilter(1.0), MAX_RETAINED)


def test_face_partly_outside_the_frame():
    check_partly_outside(MaskFilter(1.0), MAX_RETAINED)


def test_registered_with_colour_option_and_validation():
    mask = create_filter("mask", 1.0, color=[0, 0, 255])
    assert isinstance(mask, MaskFilter) and mask.color == (0, 0, 255)
    with pytest.raises(ValueError, match="color"):
        MaskFilter(color=(0, 0, 300))
    with pytest.raises(ValueError, match="color"):
        MaskFilter(color=(0, 0))

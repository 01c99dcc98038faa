"""``blur`` on the real clips with the real tracker: covered at strength 1, identity at 0, monotone between."""

import numpy as np
import pytest

from filters import create_filter
from filters.blur import BlurFilter

from .conftest import CLIPS
from .face_metrics import (
    STRENGTHS,
    check_every_frame,
    check_identity_at_zero,
    check_partly_outside,
    check_two_faces,
    detail_by_strength,
    sampled,
)
from .helpers import tracked_clip

# At strength 1 the blur (sigma ~ face/8) leaves at most 0.6% of the input's fine detail (retained_detail) and
# of its edge energy on the shared clips. 5% (20x less than the input, ~8x above the worst seen) is well below
# what a readable face needs, and leaves head-room for unseen faces and lighting.
MAX_RETAINED = 0.05
MAX_EDGE_RATIO = 0.05


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_strength_one_covers_every_frame_of_every_clip(clip):
    frames, faces = tracked_clip(clip)
    check_every_frame(lambda: BlurFilter(1.0), frames, faces, MAX_RETAINED, MAX_EDGE_RATIO)


def test_strength_zero_is_identity():
    check_identity_at_zero(BlurFilter)


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_detail_falls_monotonically_with_strength(clip):
    table = detail_by_strength(BlurFilter, *sampled(clip, 40), STRENGTHS)
    assert np.allclose(table[:, 0], 1.0)
    # Every frame: a larger radius never keeps more detail (1e-3: float rounding of nearly flat outputs).
    assert (np.diff(table, axis=1) <= 1e-3).all(), table
    assert (table[:, 1] < 0.5).all()  # strength 0.25 already halves fine detail: strength "means something" early


def test_two_faces_are_both_covered():
    check_two_faces(BlurFilter(1.0), MAX_RETAINED)


def test_face_partly_outside_the_frame():
    check_partly_outside(BlurFilter(1.0), MAX_RETAINED)


def test_kernel_scales_with_face_size_and_strength():
    assert BlurFilter(1.0).kernel_size(400) > BlurFilter(1.0).kernel_size(200) > BlurFilter(0.5).kernel_size(200)
    assert BlurFilter(1.0).kernel_size(200) % 2 == 1


def test_registered_with_options_and_validation():
    blur = create_filter("blur", 0.4, margin=0.3, feather=0.0)
    assert isinstance(blur, BlurFilter) and (blur.strength, blur.margin, blur.feather) == (0.4, 0.3, 0.0)
    with pytest.raises(ValueError, match="margin"):
        BlurFilter(margin=-0.1)
    with pytest.raises(ValueError, match="strength"):
        BlurFilter(strength=1.5)

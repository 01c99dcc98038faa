"""``pixelate`` on the real clips with the real tracker: covered at strength 1, identity at 0, monotone between."""

import numpy as np
import pytest

from filters import create_filter
from filters.face_region import face_size
from filters.pixelate import BLOCKS_AT_FULL, PixelateFilter

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

# Pixelation does not remove high frequencies, it replaces them: block edges are new ones, and where a block edge
# happens to fall on a strong edge of the face (jaw, hairline) it projects onto the input's detail. On the shared
# clips that chance alignment keeps at most ~0.17 (median ~0.02) of the input's fine detail at strength 1, against
# ~0.4 at strength 0.25 (24 blocks, a face one can still read). 0.3 separates the two; the block structure test
# below is the stronger statement (at most 6 flat samples across the face). No edge-energy bound: block edges
# are edges.
MAX_RETAINED = 0.3


def block_flatness(output: np.ndarray, inside: np.ndarray, block: int) -> tuple[int, int]:
    """(blocks touching ``inside``, largest value range within any such block's ``inside`` pixels)."""
    ys, xs = np.nonzero(inside)
    ids = (ys // block) * (output.shape[1] // block + 1) + xs // block
    order = np.argsort(ids, kind="stable")
    ids, values = ids[order], output[ys[order], xs[order]].astype(int)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    spread = np.maximum.reduceat(values, starts) - np.minimum.reduceat(values, starts)
    return len(starts), int(spread.max())


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_strength_one_covers_every_frame_of_every_clip(clip):
    frames, faces = tracked_clip(clip)
    check_every_frame(lambda: PixelateFilter(1.0), frames, faces, MAX_RETAINED, None)


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_face_becomes_flat_blocks_of_the_promised_size(clip):
    for frame, faces in zip(*sampled(clip, 50)):
        face = faces[0]
        inside = contour_area(frame.shape, face)
        for strength in (0.5, 1.0):
            pixelate = PixelateFilter(strength)
            block = pixelate.block_size(face_size(face))
            count, spread = block_flatness(pixelate.apply(frame.copy(), faces), inside, block)
            assert spread == 0  # each block on the face is one flat colour, on the frame-anchored grid
            # The face (its larger side = face_size) spans at most BLOCKS_AT_FULL / strength blocks each way.
            assert count <= (BLOCKS_AT_FULL / strength + 1) ** 2


def test_strength_zero_is_identity():
    check_identity_at_zero(PixelateFilter)


def distinct_colours(image: np.ndarray, where: np.ndarray) -> int:
    pixels = image[where].astype(np.int32)
    return len(np.unique((pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]))


@pytest.mark.parametrize("clip", CLIPS, ids=lambda p: p.stem)
def test_detail_falls_monotonically_with_strength(clip):
    frames, faces = sampled(clip, 40)
    table = detail_by_strength(PixelateFilter, frames, faces, STRENGTHS)
    assert np.allclose(table[:, 0], 1.0)
    # Fine detail retained falls steeply up to 0.5; beyond that it sits at the noise floor of block edges meeting
    # face edges by chance (see MAX_RETAINED), so per frame only the big step is asserted.
    assert (table[:, 1] < 0.7).all() and (table[:, 4] < table[:, 1] - 0.1).all(), table
    # The monotone measure of what pixelation leaves is how many different values the face is made of (an upper
    # bound on its information), counted from the output alone: strictly fewer at every step, on every frame.
    for frame, frame_faces in zip(frames, faces):
        inside = contour_area(frame.shape, frame_faces[0])
        counts = [distinct_colours(PixelateFilter(s).apply(frame.copy(), frame_faces), inside) for s in STRENGTHS]
        assert (np.diff(counts) < 0).all(), counts


def test_two_faces_are_both_covered():
    check_two_faces(PixelateFilter(1.0), MAX_RETAINED)


def test_face_partly_outside_the_frame():
    check_partly_outside(PixelateFilter(1.0), MAX_RETAINED)


def test_block_size_scales_with_face_size_and_strength():
    assert PixelateFilter(1.0).block_size(600) == 100
    assert (
        PixelateFilter(1.0).block_size(300) > PixelateFilter(0.5).block_size(300) > PixelateFilter(0.1).block_size(300)
    )


def test_registered_with_options():
    pixelate = create_filter("pixelate", 0.7, margin=0.2, feather=0.05)
    assert isinstance(pixelate, PixelateFilter) and (pixelate.margin, pixelate.feather) == (0.2, 0.05)
    with pytest.raises(ValueError, match="feather"):
        PixelateFilter(feather=2)

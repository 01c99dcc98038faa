"""``blur``: the face region under a heavy stack blur."""

from __future__ import annotations

import cv2
import numpy as np

from filters.face_region import DEFAULT_FEATHER, DEFAULT_MARGIN, FaceRegion, FaceRegionFilter
from filters.registry import register_filter

# Blur radius at strength 1, as a fraction of the face size. A stack blur of radius r has a triangular kernel of
# standard deviation ~r/2.45, so 0.3 gives sigma ~ face/8: what is left is a few blobs of skin and hair colour
# (below ~2 cycles per face width; eyes, nose and mouth are gone).
FULL_RADIUS = 0.3


@register_filter
class BlurFilter(FaceRegionFilter):
    """Blurs each face along its contour (feathered edge, background untouched).

    ``strength`` is the blur radius: ``strength * 0.3 * face size`` pixels (0 = unchanged, 0.25 = soft-focus,
    features still readable; 1 = sigma about face/8, nothing recognisable). Scaling with the face keeps the
    effect the same whether the face is near or far.
    """

    name = "blur"
    description = "Blur the face (strength = blur radius, up to 30% of the face size)"

    def __init__(self, strength: float = 1.0, margin: float = DEFAULT_MARGIN, feather: float = DEFAULT_FEATHER):
        super().__init__(strength, margin, feather)

    def kernel_size(self, face_size: float) -> int:
        """Odd stack-blur kernel size for a face of ``face_size`` pixels at the current strength."""
        return 2 * round(self.strength * FULL_RADIUS * face_size) + 1

    def cover(self, frame: np.ndarray, region: FaceRegion) -> np.ndarray:
        patch = frame[region.slices]
        kernel = self.kernel_size(region.size)
        if kernel < 3:
            return patch.copy()
        return cv2.stackBlur(patch, (kernel, kernel))

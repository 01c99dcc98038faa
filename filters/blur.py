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
MAX_SHRINK = 4
PIXELS_PER_SHRINK = 8  # shrink by 2 from a radius of 16 px, by 4 from 32 px


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
        radius = self.kernel_size(region.size) // 2
        if radius < 1:
            return patch.copy()
        # A blur of radius r keeps nothing finer than ~r/2 pixels, so a large one runs on the ROI shrunk by up to
        # 4x each way and is scaled back up: the same look at a fraction of the cost on 720p and 1080p faces.
        factor = min(MAX_SHRINK, max(1, radius // PIXELS_PER_SHRINK))
        height, width = patch.shape[:2]
        if factor == 1 or min(height, width) < factor:
            return cv2.stackBlur(patch, (2 * radius + 1, 2 * radius + 1))
        # Shrinking whole multiples of the factor takes OpenCV's fast area-averaging path (~3x faster); scaling
        # back to the full ROI then stretches the result by less than ``factor`` pixels, invisible under this blur.
        small_size = (width // factor, height // factor)
        whole = patch[: small_size[1] * factor, : small_size[0] * factor]
        small = cv2.resize(whole, small_size, interpolation=cv2.INTER_AREA)
        small_kernel = 2 * max(1, round(radius / factor)) + 1
        small = cv2.stackBlur(small, (small_kernel, small_kernel))
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)

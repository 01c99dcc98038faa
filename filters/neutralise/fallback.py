"""Graceful degradation: when the neutraliser cannot be trusted for a face (turned too far, the reference does
not fit), that face is blended towards a blur instead of ever showing a distorted or a raw expressive face."""

from __future__ import annotations

import cv2
import numpy as np

from filters.base import Face


def blur_face(frame: np.ndarray, face: Face, amount: float) -> None:
    """Blend the face region (landmark hull, grown by 15%, feathered) of ``frame`` in place towards a strong
    blur; ``amount`` 0..1."""
    if amount <= 0.0:
        return
    height, width = frame.shape[:2]
    pts = face.points
    centre = pts.mean(axis=0)
    hull = cv2.convexHull((centre + 1.15 * (pts - centre)).astype(np.int32))
    x, y, w, h = cv2.boundingRect(hull)
    pad = max(4, w // 10)
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + w + pad, width), min(y + h + pad, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    roi = frame[y0:y1, x0:x1]
    radius = max(3, (w // 8) | 1)
    blurred = cv2.stackBlur(roi, (radius, radius))
    mask = np.zeros(roi.shape[:2], np.float32)
    cv2.fillConvexPoly(mask, hull - np.array([x0, y0], np.int32), 1.0)
    mask = cv2.stackBlur(mask, (pad | 1, pad | 1)) * float(min(amount, 1.0))
    roi[:] = (roi * (1.0 - mask[..., None]) + blurred * mask[..., None]).astype(np.uint8)

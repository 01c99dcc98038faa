"""Graceful degradation: when the neutraliser cannot be trusted for a face (turned too far, the reference does
not fit), that face is blended towards a blur instead of ever showing a distorted or a raw expressive face; and
until the auto reference has a closed mouth to paste, bared teeth are painted over with the lips' colour."""

from __future__ import annotations

import cv2
import numpy as np

from filters.base import Face
from filters.neutralise.regions import LIPS, LOWER_LIP_INNER, MOUTH_CORNERS, UPPER_LIP_INNER


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


# The gap between the lips as a closed contour: inner corner, upper inner lip, other inner corner, lower inner lip.
_MOUTH_GAP = np.r_[MOUTH_CORNERS[2], UPPER_LIP_INNER, MOUTH_CORNERS[3], LOWER_LIP_INNER[::-1]]
GAP_GROWTH = 2  # pixels the gap is grown by: the teeth's edge lies a little outside the tracked inner lip line
GAP_FEATHER = 7  # pixels: Gaussian window of the painted gap's edge


def close_mouth_gap(frame: np.ndarray, target: np.ndarray, amount: float) -> None:
    """Paint the gap between the inner lips of ``target`` (landmark pixels) in ``frame`` (in place) with the lips'
    own colour (their median around the gap), feathered; ``amount`` 0..1. A stand-in for the reference's closed
    mouth while there is none: teeth bared in a grimace, squeezed thin by the warp, still show the grimace."""
    if amount <= 0.0:
        return
    lips = target[LIPS, :2]
    height, width = frame.shape[:2]
    margin = GAP_GROWTH + GAP_FEATHER
    x0, y0 = np.maximum(np.floor(lips.min(axis=0)).astype(int) - margin, 0)
    x1, y1 = np.minimum(np.ceil(lips.max(axis=0)).astype(int) + margin + 1, (width, height))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    roi = frame[y0:y1, x0:x1]
    mouth = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillConvexPoly(mouth, cv2.convexHull(np.round(lips - (x0, y0)).astype(np.int32)), 1)
    gap = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(gap, [np.round(target[_MOUTH_GAP, :2] - (x0, y0)).astype(np.int32)], 1)
    gap = cv2.dilate(gap, np.ones((2 * GAP_GROWTH + 1, 2 * GAP_GROWTH + 1), np.uint8))
    lip_pixels = roi[(mouth > 0) & (gap == 0)]
    if len(lip_pixels) < 16:
        return
    colour = np.median(lip_pixels, axis=0).astype(np.float32)
    weight = cv2.GaussianBlur(gap.astype(np.float32), (GAP_FEATHER, GAP_FEATHER), 0)[..., None]
    weight *= float(min(amount, 1.0))
    roi[:] = np.clip(roi * (1.0 - weight) + colour * weight + 0.5, 0, 255).astype(np.uint8)

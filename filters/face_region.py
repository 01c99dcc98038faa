"""Where a face is: a feathered mask that follows the mesh's face contour, and the ROI that bounds it.

The contour is MediaPipe's FACE_OVAL loop (36 landmarks, forehead -> right cheek -> chin -> left cheek),
pushed outwards by ``margin`` (a fraction of the face size) because the mesh stops at the upper forehead
and does not cover hair or ears. ``feather`` (also a fraction of the face size) is a soft band OUTSIDE the
margin: the mask is exactly 1 on the contour + margin and exactly 0 beyond contour + margin + feather, so
everything an obscuring filter promises (face fully covered, background bit-exact) holds at the pixel level.
"The contour" is the loop's convex hull: identical on a frontal face, and never folded on a turned one.

All the work happens inside each face's ROI (clipped to the frame), never on the whole frame: a 1280x720
frame with one face costs about as much as a 512x512 one.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from filters.base import Face, Filter

# MediaPipe's FaceLandmarksConnections.FACE_LANDMARKS_FACE_OVAL chained into one closed loop. Written out so
# filters need no mediapipe import; tests/test_face_region.py checks it against mediapipe's own connections.
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip

DEFAULT_MARGIN = 0.15
DEFAULT_FEATHER = 0.08
_SUBPIXEL_BITS = 4  # cv2.fillPoly fixed-point shift: polygons keep 1/16 px precision


def face_size(face: Face) -> float:
    """The face's size in pixels: the larger side of the contour's bounding box (the height for a turned head,
    so a profile face still gets a margin and kernels scaled to the whole head, not to its narrow width)."""
    pts = face.points[list(FACE_OVAL)]
    extent = pts.max(axis=0) - pts.min(axis=0)
    return float(max(extent.max(), 1.0))


def _outline(face: Face) -> tuple[np.ndarray, np.ndarray]:
    """The contour's convex hull, (K, 2) float32 with K <= 36, and each vertex's unit outward normal.

    The FACE_OVAL loop is all but convex on a frontal face; on a head turned far aside it can fold over itself,
    and a folded polygon fills with holes. Its hull never does, so every landmark of the contour stays covered.
    """
    pts = cv2.convexHull(face.points[list(FACE_OVAL)].astype(np.float32)).reshape(-1, 2)
    tangent = np.roll(pts, -1, axis=0) - np.roll(pts, 1, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-6)
    # The hull's winding decides which side "outwards" is; the shoelace area's sign tells which it is.
    x, y = pts[:, 0], pts[:, 1]
    if float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) < 0:
        normal = -normal
    return pts, normal


def face_polygon(face: Face, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """The face contour (its convex hull) expanded by ``margin`` x face size, as (K, 2) int32 pixel positions
    (may lie outside the frame: faces partly out of view are normal)."""
    pts, normal = _outline(face)
    return np.round(pts + normal * (margin * face_size(face))).astype(np.int32)


@dataclass(frozen=True)
class FaceRegion:
    """One face's feathered mask, cut to its ROI. ``roi`` = (x0, y0, x1, y1) in frame pixels, end exclusive,
    inside the frame; ``mask`` is float32 (y1 - y0, x1 - x0) in 0..1; ``size`` is :func:`face_size`."""

    roi: tuple[int, int, int, int]
    mask: np.ndarray
    size: float

    @property
    def slices(self) -> tuple[slice, slice]:
        x0, y0, x1, y1 = self.roi
        return slice(y0, y1), slice(x0, x1)


def _fill(canvas: np.ndarray, polygon: np.ndarray, origin: tuple[int, int]) -> None:
    shifted = (polygon - np.asarray(origin, np.float32)) * (1 << _SUBPIXEL_BITS)
    cv2.fillPoly(canvas, [np.round(shifted).astype(np.int32)], 255, cv2.LINE_8, _SUBPIXEL_BITS)


def face_region(
    shape_hw: tuple[int, int], face: Face, margin: float = DEFAULT_MARGIN, feather: float = DEFAULT_FEATHER
) -> FaceRegion | None:
    """The region of one face in a frame of ``shape_hw``; ``None`` when none of it falls inside the frame."""
    if not np.isfinite(face.points[list(FACE_OVAL)]).all():
        # Skipping such a face would leave it uncovered: raise, so the pipeline fails closed.
        raise ValueError("face landmarks are not finite numbers; cannot place the face region")
    height, width = shape_hw[:2]
    size = face_size(face)
    margin_px, feather_px = margin * size, feather * size
    pts, normal = _outline(face)
    outer = pts + normal * (margin_px + feather_px)
    x0, y0 = np.floor(outer.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), width), min(int(y1), height)
    if x1 <= x0 or y1 <= y0:
        return None
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    # Feather: fill the contour at margin + feather/2, then a blur whose radius stays below feather/2 ramps the
    # edge from 1 (at the margin) to 0 (before margin + feather). Re-filling the margin polygon afterwards makes
    # the covered part exactly 1 whatever the blur's integer rounding does.
    kernel = int(feather_px) - (1 - int(feather_px) % 2)  # largest odd size <= feather_px: radius < feather_px/2
    if kernel >= 3:
        _fill(canvas, pts + normal * (margin_px + feather_px / 2), (x0, y0))
        canvas = cv2.stackBlur(canvas, (kernel, kernel))
    _fill(canvas, pts + normal * margin_px, (x0, y0))
    mask = canvas.astype(np.float32)
    mask *= 1.0 / 255.0
    return FaceRegion((x0, y0, x1, y1), mask, size)


def union_roi(rois: Sequence[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The smallest box holding every ROI; (0, 0, 0, 0) when there are none."""
    if not rois:
        return (0, 0, 0, 0)
    boxes = np.asarray(rois)
    return (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max()))


def face_mask(
    shape_hw: tuple[int, int],
    faces: Sequence[Face],
    margin: float = DEFAULT_MARGIN,
    feather: float = DEFAULT_FEATHER,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Every face's feathered mask in one frame-sized float32 (H, W) array (0 outside ``roi``), plus the ROI
    that bounds them all ((0, 0, 0, 0) without faces). Filters use :func:`face_region` per face instead."""
    height, width = shape_hw[:2]
    mask = np.zeros((height, width), np.float32)
    regions = [r for r in (face_region(shape_hw, f, margin, feather) for f in faces) if r is not None]
    for region in regions:
        np.maximum(mask[region.slices], region.mask, out=mask[region.slices])
    return mask, union_roi([r.roi for r in regions])


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (a fraction of the face size), got {value}")
    return value


class FaceRegionFilter(Filter):
    """Base of the obscuring filters: each face's region is replaced by :meth:`cover`, blended through the
    feathered mask. Strength 0 and "no faces" return the frame untouched (fail-closed handling of a lost face
    is the pipeline's job: it obscures the whole frame). Faces are processed one ROI at a time."""

    def __init__(self, strength: float = 1.0, margin: float = DEFAULT_MARGIN, feather: float = DEFAULT_FEATHER):
        super().__init__(strength)
        self.margin = _check_fraction("margin", margin)
        self.feather = _check_fraction("feather", feather)

    def apply(self, frame: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        if self.strength == 0.0:
            return frame
        for face in faces:
            region = face_region(frame.shape[:2], face, self.margin, self.feather)
            if region is None:
                continue
            patch = frame[region.slices]
            weight = region.mask if self.opacity == 1.0 else region.mask * self.opacity
            patch[:] = cv2.blendLinear(patch, self.cover(frame, region), 1.0 - weight, weight)
        return frame

    @property
    def opacity(self) -> float:
        """How much of :meth:`cover` replaces the face (1 unless the filter uses strength as opacity)."""
        return 1.0

    @abstractmethod
    def cover(self, frame: np.ndarray, region: FaceRegion) -> np.ndarray:
        """What replaces the face: a uint8 BGR image of the ROI's size (``frame`` is read, never written)."""

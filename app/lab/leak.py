"""Leak detector: did an output frame carry the input's face region recognisably unfiltered?

The comparison happens inside the input face's region (convex hull of the tracked landmarks), cropped and
resized so the face is ``CROP`` pixels wide whatever the resolution, in grayscale:

* ``detail_correlation``: normalised cross-correlation of band-pass detail (difference of Gaussians, sigma
  1 and 4 px at the normalised scale): the eyes, brows, nostrils, mouth corners and their edges. It ignores
  brightness and contrast (a dark or washed-out leak still counts) and survives JPEG, sensor noise and a
  shift of a few pixels (the best of all shifts up to ``SEARCH``), while blur, pixelation, a solid mask or
  a whole-frame obscure leave none of it. The score is the highest over the whole face and each of its four
  halves, so a face covered only in part (the mouth left raw) counts as leaked too.
* ``masked_ssim``: SSIM (Gaussian window, sigma 1.5) averaged over the face mask; reported beside it.

The verdict uses the detail correlation; SSIM does not separate the classes (a blurred face and a darkened
raw one both score ~0.6). Threshold from ``scripts/leak_calibration.py`` on the five shared clips (every 6th
frame, 346 faces; numbers of 2026-11-28):

=================================================================  ===========================================
pair (input vs ...)                                                detail correlation
=================================================================  ===========================================
leaked: JPEG q30 / q60, Gaussian noise sd 6, shift 3 px / 8 px,    n=2422: min 0.920, 1st pct 0.941,
brightness x0.4 / x1.8                                             median 0.998
safe: ``blur`` and ``pixelate`` at strength >= 0.8, ``mask`` at    n=2422: max 0.448, 99th pct 0.356,
1, ``obscure_frame``, the plain card                               median 0.147
(for reference: blur/pixelate at 0.5: max 0.531; at 0.3: max 0.731, i.e. features still readable;
``mask`` below 1 is a translucent fill and scores >= 0.99: the face shows through, a leak)
=================================================================  ===========================================

``LEAK_THRESHOLD = 0.65`` sits in the middle of the gap (0.45 .. 0.92), with room on both sides for unseen
faces. A face left raw in one half only (the other half blurred) scores 0.85 .. 0.98 on d10/d12: a leak.
``tests/test_leak_detector.py`` re-checks both sides on a subsample of the clips with the real filters.

What counts as a leak depends on what the filter promises (explicit, per expectation):

* ``OBSCURED`` (``blur``, ``pixelate``, ``mask``, ``obscure_frame``, card): a leak is any output whose face
  region still correlates with the input's detail at or above ``LEAK_THRESHOLD``.
* ``ALTERED`` (``neutralise``): the neutraliser keeps identity on purpose, so the face region is *meant* to
  correlate highly. A leak there is the **raw expressive face**: the face region arrived as the input's own
  pixels (``RAW_THRESHOLD``: mean absolute difference under 1.5 grey levels in the face region, i.e. a
  pass-through, which no neutralised frame of an expressive face is) while the input face was expressive
  (some expression blendshape at or above ``EXPRESSIVE_BLENDSHAPE``). A neutral input passed through unchanged
  shows nothing the user wanted hidden, so it is not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from filters.base import BLENDSHAPE_INDEX, Face

LEAK_THRESHOLD = 0.65
RAW_THRESHOLD = 1.5  # mean |output - input| in grey levels below which the face region is a pass-through
EXPRESSIVE_BLENDSHAPE = 0.3
SEARCH = 8  # shifts tried, in pixels of the normalised crop (6% of the face width)
CROP = 128  # the face is resized to this width before comparing, so sigmas mean the same at any resolution
_MIN_DETAIL = 1e-3  # band-pass energy (per pixel, grey levels^2) below which the input face shows nothing

OBSCURED = "obscured"
ALTERED = "altered"

# Blendshapes that carry expression (not gaze, not blinks: those are not what the user hides).
_EXPRESSION_NAMES = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawOpen", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthPucker", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)  # fmt: skip
_EXPRESSION_INDEX = np.array([BLENDSHAPE_INDEX[n] for n in _EXPRESSION_NAMES])


def expression_level(face: Face) -> float:
    """The strongest expression blendshape of ``face`` (0 = resting face); >= ``EXPRESSIVE_BLENDSHAPE``
    counts as expressive."""
    return float(face.blendshapes[_EXPRESSION_INDEX].max(initial=0.0))


@dataclass(frozen=True)
class FaceComparison:
    """How much of one input face survives in the output."""

    detail_correlation: float  # the highest over the whole face and its four halves
    worst_part: str  # which of "face", "upper", "lower", "left", "right" scored it
    ssim: float
    mean_abs_diff: float
    expressive: bool


@dataclass(frozen=True)
class LeakVerdict:
    leaked: bool
    score: float  # the highest detail correlation over the faces (0 when there are none)
    faces: tuple[FaceComparison, ...]


def expression_expected(filter_name: str) -> str:
    """The promise a filter makes: the neutraliser alters the face, everything else obscures it."""
    return ALTERED if filter_name.startswith("neutralis") else OBSCURED


def _scaled_region(image_bgr: np.ndarray, box: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """Grayscale float32 of ``box`` (x0, y0, x1, y1; may reach outside the frame: edge-replicated), scaled."""
    x0, y0, x1, y1 = box
    height, width = image_bgr.shape[:2]
    crop = image_bgr[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    gray = cv2.copyMakeBorder(
        gray, max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0), cv2.BORDER_REPLICATE
    )
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(gray, size, interpolation=interpolation).astype(np.float32)


def _band_pass(gray: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(gray, (0, 0), 1.0) - cv2.GaussianBlur(gray, (0, 0), 4.0)


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004; Gaussian window sigma 1.5, 8-bit constants) over ``mask > 0``."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    inside = mask > 0
    return float(ssim_map[inside].mean()) if inside.any() else 0.0


def detail_correlation(detail_in: np.ndarray, detail_out: np.ndarray, mask: np.ndarray) -> float:
    """Normalised cross-correlation of band-pass detail: ``detail_in`` (the input's, over ``mask > 0``)
    against ``detail_out`` (the output's, ``SEARCH`` pixels larger on every side), best over the shifts.
    0 when the input has no detail to leak (a black or flat face)."""
    inside = mask > 0
    weights = inside.astype(np.float32)
    count = float(weights.sum())
    if count == 0:
        return 0.0
    da = (detail_in - detail_in[inside].mean()) * weights
    energy_a = float((da * da).sum())
    if energy_a < _MIN_DETAIL * count:
        return 0.0
    db = detail_out
    # Per shift: sum(da * db) / sqrt(energy_a * sum over the mask of (db - its mean)^2), written with three
    # correlations so a flat output window scores 0 instead of OpenCV's normalised noise.
    cross = cv2.matchTemplate(db, da, cv2.TM_CCORR)
    sum_b = cv2.matchTemplate(db, weights, cv2.TM_CCORR)
    sum_b2 = cv2.matchTemplate(db * db, weights, cv2.TM_CCORR)
    energy_b = np.maximum(sum_b2 - sum_b * sum_b / count, 0.0)
    scores = np.where(energy_b >= _MIN_DETAIL * count, cross / np.sqrt(energy_a * np.maximum(energy_b, 1e-12)), 0.0)
    return float(np.clip(scores.max(), -1.0, 1.0)) if scores.size else 0.0


def face_parts(mask: np.ndarray) -> dict[str, np.ndarray]:
    """The whole face mask and its upper, lower, left and right halves (split at the mask's centre), so a
    filter that covers only part of the face (a misplaced mesh, a half-applied effect) is still caught."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return {"face": mask}
    cy, cx = int(rows.mean()), int(cols.mean())
    parts = {"face": mask}
    for name, region in (
        ("upper", np.s_[:cy, :]),
        ("lower", np.s_[cy:, :]),
        ("left", np.s_[:, :cx]),
        ("right", np.s_[:, cx:]),
    ):
        part = np.zeros_like(mask)
        part[region] = mask[region]
        parts[name] = part
    return parts


def compare_face(input_bgr: np.ndarray, output_bgr: np.ndarray, face: Face) -> FaceComparison | None:
    """Compare one face's region of the input with the same region of the output (None if off-frame).

    Both frames are scaled so the face is ``CROP`` pixels wide; the output is searched over shifts of up to
    ``SEARCH`` pixels so a re-encoded copy or a frame a few pixels off is still recognised as the face it is."""
    points = face.points
    face_width = float(np.ptp(points[:, 0]))
    if face_width < 8:
        return None
    scale = CROP / face_width
    # Work on the face's box plus room for the shift search only: scaling whole frames costs more than the rest.
    margin = int(np.ceil((SEARCH + 2) / scale))
    (px0, py0), (px1, py1) = points.min(axis=0), points.max(axis=0)
    box = (int(px0) - margin, int(py0) - margin, int(np.ceil(px1)) + margin, int(np.ceil(py1)) + margin)
    frame_h, frame_w = input_bgr.shape[:2]
    if box[0] >= frame_w or box[1] >= frame_h or box[2] <= 0 or box[3] <= 0:
        return None  # the face is entirely outside the picture
    small_in = _scaled_region(input_bgr, box, scale)
    small_out = _scaled_region(output_bgr, box, scale)
    origin = np.array(box[:2], np.float32)
    hull = cv2.convexHull(np.round((points - origin) * scale).astype(np.int32))
    x, y, w, h = cv2.boundingRect(hull)
    height, width = small_in.shape
    x0, y0, x1, y1 = max(x, SEARCH), max(y, SEARCH), min(x + w, width - SEARCH), min(y + h, height - SEARCH)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    mask = np.zeros(small_in.shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    # Only pixels inside the frame count: the replicated border outside it is nobody's face.
    fx0, fy0 = (np.array([0, 0]) - origin) * scale
    fx1, fy1 = (np.array([frame_w, frame_h]) - origin) * scale
    mask[:, : max(0, int(np.ceil(fx0)))] = 0
    mask[: max(0, int(np.ceil(fy0))), :] = 0
    mask[:, max(0, int(fx1)) :] = 0
    mask[max(0, int(fy1)) :, :] = 0
    mask = mask[y0:y1, x0:x1]
    a = small_in[y0:y1, x0:x1]
    b = small_out[y0:y1, x0:x1]
    # Band-pass before cutting, so both sides see the same neighbourhood at every pixel.
    detail_in = _band_pass(small_in)[y0:y1, x0:x1]
    detail_out = _band_pass(small_out)[y0 - SEARCH : y1 + SEARCH, x0 - SEARCH : x1 + SEARCH]
    inside = mask > 0
    expressive = expression_level(face) >= EXPRESSIVE_BLENDSHAPE
    part_scores = {name: detail_correlation(detail_in, detail_out, part) for name, part in face_parts(mask).items()}
    worst = max(part_scores, key=part_scores.__getitem__)
    return FaceComparison(
        detail_correlation=part_scores[worst],
        worst_part=worst,
        ssim=masked_ssim(a, b, mask),
        mean_abs_diff=float(np.abs(a - b)[inside].mean()) if inside.any() else 0.0,
        expressive=expressive,
    )


class LeakDetector:
    """``check(input, output, faces) -> LeakVerdict``; ``faces`` are the INPUT's true faces (tracked on the
    clean frame), so a fault that hides the face from the pipeline's tracker cannot hide it from the check.

    ``expect``: ``OBSCURED`` or ``ALTERED`` (see the module docstring); ``expression_expected(name)`` maps a
    filter name to it.
    """

    def __init__(self, expect: str = OBSCURED, threshold: float = LEAK_THRESHOLD) -> None:
        if expect not in (OBSCURED, ALTERED):
            raise ValueError(f"expect must be {OBSCURED!r} or {ALTERED!r}")
        self.expect = expect
        self.threshold = threshold

    def check(self, input_bgr: np.ndarray, output_bgr: np.ndarray, faces: Sequence[Face]) -> LeakVerdict:
        if output_bgr.shape[:2] != input_bgr.shape[:2]:
            # A different size cannot be compared pixel-for-pixel: bring it to the input's size first, so
            # a scaled copy of the raw frame is still caught.
            output_bgr = cv2.resize(output_bgr, (input_bgr.shape[1], input_bgr.shape[0]))
        comparisons = tuple(c for f in faces if (c := compare_face(input_bgr, output_bgr, f)) is not None)
        score = max((c.detail_correlation for c in comparisons), default=0.0)
        if self.expect == OBSCURED:
            leaked = score >= self.threshold
        else:
            leaked = any(c.expressive and c.mean_abs_diff < RAW_THRESHOLD for c in comparisons)
        return LeakVerdict(leaked=leaked, score=score, faces=comparisons)

    def is_leak(self, input_bgr: np.ndarray, output_bgr: np.ndarray, faces: Sequence[Face]) -> bool:
        return self.check(input_bgr, output_bgr, faces).leaked

"""The texture step: where geometry cannot help (teeth showing in an open or smiling mouth), blend in the
reference's own mouth, warped into the current pose with the same triangle machinery and matched to the current
lighting (see :func:`lab_transfer`), with a feathered edge. A few small OpenCV calls on the mouth box only."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from filters.base import NUM_LANDMARKS
from filters.neutralise.mesh import TRIANGLES
from filters.neutralise.regions import (
    LIPS,
    LOWER_LIP_INNER_MID,
    MOUTH_CORNERS,
    TESSELATION_EDGES,
    UPPER_LIP_INNER_MID,
)
from filters.neutralise.warp import covered_map, remap_bgra

OUTER_LIPS = np.array(
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185], dtype=np.intp
)


def _mouth_area() -> np.ndarray:
    """The lips and four rings of mesh neighbours around them: the texture's triangles must cover the grown mask
    and its feather even where a jaw closed by the warp squeezes the mesh under the lips."""
    area = set(LIPS.tolist())
    for _ in range(4):
        area |= {int(b) for a, b in TESSELATION_EDGES if a in area} | {
            int(a) for a, b in TESSELATION_EDGES if b in area
        }
    return np.array(sorted(area), dtype=np.intp)


MOUTH_AREA = _mouth_area()
_inside = np.zeros(int(TRIANGLES.max()) + 1, bool)
_inside[MOUTH_AREA] = True
MOUTH_TRIANGLES = TRIANGLES[_inside[TRIANGLES].all(axis=1)]
# The blend mask is the outer lip line grown by this much about the mouth centre: far enough past the corners to
# cover the folds a smile or a smirk leaves there (1.3 left them: d12's smile leakage 0.15 -> 0.08 at 1.6).
MASK_GROWTH = 1.6
# A smile the warp pulls in leaves its corner creases past the target's corners, further the more it was pulled: the
# mask then reaches further along the mouth, by this much per unit of (current / target mouth width - 1), up to
# MAX_ALONG_GROWTH (d12's smile leakage 0.292 -> 0.265; fixed growth along the mouth cost the talking clips more).
GROWTH_PER_PULL = 2.0
MAX_ALONG_GROWTH = 2.4
MIN_MOUTH_ALPHA = 0.02  # below this the reference mouth is not blended at all
MOUTH_GAIN_LIMITS = (0.7, 1.3)  # lightness spread ratio, loosely: teeth and tongue raise the current mouth's spread


def scaled_crop(
    frame: np.ndarray, landmarks: np.ndarray, box: tuple[int, int, int, int], max_width: int, min_size: int = 8
) -> tuple[np.ndarray, np.ndarray] | None:
    """(BGR crop of ``box`` (x0, y0, x1, y1) scaled to at most ``max_width`` wide, all landmarks in crop pixels);
    None if the box is not wholly inside the frame or smaller than ``min_size``."""
    x0, y0, x1, y1 = box
    height, width = frame.shape[:2]
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height or x1 - x0 < min_size or y1 - y0 < min_size:
        return None
    scale = min(1.0, max_width / (x1 - x0))
    crop = frame[y0:y1, x0:x1]
    if scale < 1.0:
        crop = cv2.resize(crop, (round((x1 - x0) * scale), round((y1 - y0) * scale)), interpolation=cv2.INTER_AREA)
    points = (landmarks[:, :2] - np.array([x0, y0], np.float32)) * scale
    return np.ascontiguousarray(crop), points.astype(np.float32)


def _grown_lips(points: np.ndarray, along: float = MASK_GROWTH) -> np.ndarray:
    """The blend mask's outline: the outer lip line of (N >= 478, 2+) points grown about its centre, by ``along``
    along the corner-to-corner line and by MASK_GROWTH across it."""
    outline = points[OUTER_LIPS, :2]
    centre = outline.mean(axis=0)
    corners = points[MOUTH_CORNERS[1], :2] - points[MOUTH_CORNERS[0], :2]
    axis = corners / max(float(np.linalg.norm(corners)), 1e-6)
    offsets = outline - centre
    along_part = (offsets @ axis)[:, None] * axis
    return centre + along * along_part + MASK_GROWTH * (offsets - along_part)


def mouth_width(points: np.ndarray) -> float:
    """Distance between the outer mouth corners of (N >= 478, 2) landmark positions."""
    return float(np.linalg.norm(points[MOUTH_CORNERS[0]] - points[MOUTH_CORNERS[1]]))


def along_growth(current: np.ndarray, target: np.ndarray) -> float:
    """How far the mouth mask reaches along the mouth (see GROWTH_PER_PULL), from the mouth's width in the
    ``current`` and ``target`` landmark positions (pixels)."""
    pulled = mouth_width(current) / max(mouth_width(target), 1e-6) - 1.0
    return float(np.clip(MASK_GROWTH + GROWTH_PER_PULL * pulled, MASK_GROWTH, MAX_ALONG_GROWTH))


def skin_ring(mask: np.ndarray, points: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """uint8 mask: the grown blend ``mask`` (float or uint8) without the lips themselves (``points`` in the mask's
    pixels after subtracting ``origin``). Light is measured there only: an open mouth's teeth, tongue and dark
    inside would otherwise darken the pasted closed mouth."""
    ring = (mask > 0.5).astype(np.uint8)
    lips = np.round(points[OUTER_LIPS, :2] - np.asarray(origin, np.float32)).astype(np.int32)
    cv2.fillPoly(ring, [lips], 0)
    return ring


def lip_gap_ratio(points: np.ndarray) -> float:
    """Inner lip gap / mouth width of (N >= 478, 2) landmark positions (0 = closed lips)."""
    gap = float(np.linalg.norm(points[LOWER_LIP_INNER_MID] - points[UPPER_LIP_INNER_MID]))
    return gap / max(mouth_width(points), 1e-6)


def blend_mouth(
    frame: np.ndarray,
    target: np.ndarray,
    mouth_image: np.ndarray,
    mouth_points: np.ndarray,
    alpha: float,
    step: int,
    along: float = MASK_GROWTH,
) -> None:
    """Blend the reference mouth into ``frame`` (in place) at the ``target`` landmark positions (pixels), with the
    mask grown by ``along`` along the mouth (:func:`along_growth`)."""
    if alpha <= MIN_MOUTH_ALPHA:  # invisible: a relaxed mouth parts by a hair all the time
        return
    height, width = frame.shape[:2]
    outline = _grown_lips(target, along)
    pad = 0.15 * float(np.ptp(outline[:, 0]))
    x0 = max(int(np.floor(outline[:, 0].min() - pad)), 0)
    y0 = max(int(np.floor(outline[:, 1].min() - pad)), 0)
    x1 = min(int(np.ceil(outline[:, 0].max() + pad)) + 1, width)
    y1 = min(int(np.ceil(outline[:, 1].max() + pad)) + 1, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(mask, [np.round(outline - (x0, y0)).astype(np.int32)], 1.0, cv2.LINE_AA)
    region = frame[y0:y1, x0:x1]
    # Relit on the small reference crop before it is warped (a fraction of the pixels), reused while the light holds.
    lit = _mouth_source(mouth_image, mouth_points).relit(lambda: lab_stats(region, skin_ring(mask, target, (x0, y0))))
    if lit is None:
        return
    maps, covered = covered_map(mouth_points, target[:NUM_LANDMARKS], MOUTH_TRIANGLES, (x0, y0, x1, y1), step)
    source = remap_bgra(lit, maps)
    feather = max(3, int(pad) | 1)
    mask = cv2.GaussianBlur(mask, (feather, feather), 0)
    # A jaw closed far by the warp squeezes the mesh under the lips: the feathered mask can then reach past the
    # pasted triangles, where the crop means nothing. The paste fades out inside them instead.
    mask = np.minimum(mask, feather_inside(covered, feather // 2)) * float(min(alpha, 1.0))
    blend_into(region, source, mask)


def feather_inside(covered: np.ndarray, radius: int) -> np.ndarray:
    """float32 0..1 mask that is 1 well inside ``covered`` (uint8, 255 = covered) and falls to 0 at its edge over
    about ``radius`` pixels, never outside it (what lies outside was never pasted, so it must not blend)."""
    radius = max(1, int(radius))
    soft = cv2.stackBlur(covered, (2 * radius + 1, 2 * radius + 1)).astype(np.float32) / 255.0
    return np.clip(2.0 * soft - 1.0, 0.0, 1.0) * (covered > 0)


def lab_stats(image: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Lab mean and spread (3,) of a BGR uint8 image over a boolean/uint8 mask; None for fewer than 16 pixels."""
    mask = where.astype(np.uint8)
    if cv2.countNonZero(mask) < 16:
        return None
    mean, spread = cv2.meanStdDev(cv2.cvtColor(image, cv2.COLOR_BGR2LAB), mask=mask)
    return mean.ravel(), spread.ravel()


GREY = 128.0  # a and b of a colourless pixel in OpenCV's 8-bit Lab
# OpenCV's 8-bit L is L* x 255/100, and luminance goes as ((L* + 16) / 116) ** 3: light k times as strong
# multiplies L + LIGHT_OFFSET by the cube root of k on every pixel, skin and lashes alike.
LIGHT_OFFSET = 16.0 * 255.0 / 100.0
SCALED_LIGHT = None  # ``gain_limits`` of lab_transfer and RelitCrop: relight as a change of light (see there)
# How far relighting may scale a crop's colour (a, b about grey): a change of white balance halves or doubles the
# warmth of skin at most; beyond that the means are shifted, which can push a grey pixel past grey again.
COLOUR_GAIN_LIMITS = (0.5, 2.0)


def lab_transfer(
    source_lab: np.ndarray, source_stats, target_stats, gain_limits: tuple[float, float] | None
) -> np.ndarray:
    """BGR of ``source_lab`` with its Lab statistics moved to ``target_stats``: lightness by mean and spread (gain
    clipped to ``gain_limits``), or, with ``gain_limits`` :data:`SCALED_LIGHT`, as a change of light does it
    (``L + LIGHT_OFFSET`` scaled so the means meet, the spread following); colour by scaling a and b about grey so
    their means land on the target's (the scale within :data:`COLOUR_GAIN_LIMITS`). Shifting a and b instead
    would push near-grey pixels (lashes, brows, the shadow around an eye: dark and only faintly warm) past grey
    whenever the target is less warm than the reference: a brown lash turns navy. Shifting the lightness lands
    on dark pixels as much as on skin: in shade (a shift of -20) lashes and irises go near-black."""
    (mu_s, sd_s), (mu_d, sd_d) = source_stats, target_stats
    if gain_limits is SCALED_LIGHT:
        light_gain = (mu_d[:1] + LIGHT_OFFSET) / (mu_s[:1] + LIGHT_OFFSET)
    else:
        light_gain = np.clip((sd_d[:1] + 1.0) / (sd_s[:1] + 1.0), *gain_limits)
    tint_s, tint_d = mu_s[1:] - GREY, mu_d[1:] - GREY
    tinted = np.abs(tint_s) > 1.0  # a nearly grey source has no tint to scale: gain 1, its mean only moves
    colour_gain = np.clip(np.where(tinted, tint_d / np.where(tinted, tint_s, 1.0), 1.0), *COLOUR_GAIN_LIMITS)
    gain = np.concatenate([light_gain, colour_gain])
    # The offset puts every mean on the target's; for a and b within the limits it is exactly the scale about grey.
    affine = np.hstack([np.diag(gain), (mu_d - gain * mu_s)[:, None]])
    return cv2.cvtColor(cv2.transform(source_lab, affine), cv2.COLOR_LAB2BGR)


RELIGHT_TOLERANCE = 1.5  # Lab units (0..255 scale): current statistics closer than this reuse the relit crop
RELIGHT_EVERY = 4  # calls: the current light is measured this often (it drifts slowly; measuring costs)


class RelitCrop:
    """A small reference crop (BGR uint8), kept in Lab with its mean and spread over ``mask``, relit to the current
    frame's statistics on demand, as BGRA (to be pasted with :func:`warp.remap_bgra`). The reference was lit
    differently; the current frame's light is the one to keep. Light drifts slowly, and measuring it and the two
    colour conversions are much of the texture step's cost: the current light is measured every
    :data:`RELIGHT_EVERY` calls only, and the relit crop is reused while it stays within :data:`RELIGHT_TOLERANCE`."""

    def __init__(self, image: np.ndarray, mask: np.ndarray, gain_limits: tuple[float, float] | None) -> None:
        self.image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
        self.lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
        self.stats = lab_stats(image, mask)
        self.gain_limits = gain_limits
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (mean, spread, relit BGRA)
        self._since_measured = 0

    def relit(self, measure: Callable[[], tuple[np.ndarray, np.ndarray] | None]) -> np.ndarray | None:
        """The crop in the current light (BGRA); ``measure()`` gives the current Lab statistics (None: too few pixels to
        tell, then None is returned and nothing should be blended)."""
        if self.stats is None:
            return self.image
        last = self._last  # one read: another thread (the compare view) may replace it meanwhile
        self._since_measured += 1
        if last is not None and self._since_measured < RELIGHT_EVERY:
            return last[2]
        self._since_measured = 0
        current = measure()
        if current is None:
            return None
        if (
            last is not None
            and np.abs(last[0] - current[0]).max() < RELIGHT_TOLERANCE
            and np.abs(last[1] - current[1]).max() < RELIGHT_TOLERANCE
        ):
            return last[2]
        lit = cv2.cvtColor(lab_transfer(self.lab, self.stats, current, self.gain_limits), cv2.COLOR_BGR2BGRA)
        self._last = (current[0], current[1], lit)
        return lit


class LastBuilt:
    """What ``build(image, points)`` makes of a reference crop, kept for the crops used last (keyed by the crop
    array's identity). A reference is long-lived, but each face in view has its own: with one entry, two faces
    would rebuild both crops every frame and never reuse a relit crop. The entries are one tuple, read into a
    local and replaced whole: another filter instance (the compare view's thread) may replace it meanwhile."""

    KEEP = 8  # crops (faces) kept, the least recently used going first: a crowded call, not just a pair

    def __init__(self, build: Callable[[np.ndarray, np.ndarray], object]) -> None:
        self._build = build
        self._entries: tuple[tuple[np.ndarray, object], ...] = ()

    def __call__(self, image: np.ndarray, points: np.ndarray):
        entries = self._entries
        for position, (crop, built) in enumerate(entries):
            if crop is image:
                if position:
                    self._entries = ((crop, built),) + entries[:position] + entries[position + 1 :]
                return built
        built = self._build(image, points)
        self._entries = ((image, built),) + entries[: self.KEEP - 1]
        return built


def _relit_mouth(image: np.ndarray, points: np.ndarray) -> RelitCrop:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(_grown_lips(points)).astype(np.int32)], 1)
    return RelitCrop(image, skin_ring(mask, points), MOUTH_GAIN_LIMITS)


_mouth_source = LastBuilt(_relit_mouth)


def blend_into(region: np.ndarray, patch: np.ndarray, mask: np.ndarray) -> None:
    """``region = region * (1 - mask) + patch * mask`` in place (uint8 BGR, float32 mask 0..1), one OpenCV call."""
    mask = np.ascontiguousarray(mask, np.float32)
    region[:] = cv2.blendLinear(patch, np.ascontiguousarray(region), mask, 1.0 - mask)

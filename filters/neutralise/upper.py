"""The upper-face texture step: where geometry cannot help above the nose (forehead wrinkles of raised brows, the
furrow of a frown, a raised brow's thickness, the skin around a widened or squinting eye), blend in the
reference's own brow, forehead and eye-surround skin, warped into the current pose with the same triangle
machinery, matched to the current lighting (``texture.lab_transfer``) and feathered inside the mesh.

The eye openings are holes in the blend while the eyes are calm: eyeballs and irises stay the person's own (gaze
is not expression). A blinking or shut eye's hole grows over its whole lid, so a blink is never painted open. A
widened or squinting eye's hole shrinks, and the reference's own eye covers it from the lids inwards, its irises
moved to where the person looks (``follow_gaze``); a wink counts as a squint, not a blink (see
``geometry.blink_closure``).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from filters.base import BLENDSHAPE_INDEX, NUM_LANDMARKS
from filters.neutralise.geometry import smoothstep
from filters.neutralise.mesh import TRIANGLES
from filters.neutralise.regions import EYE_CORNERS, EYELIDS
from filters.neutralise.texture import (
    SCALED_LIGHT,
    LastBuilt,
    RelitCrop,
    blend_into,
    feather_inside,
    lab_stats,
    scaled_crop,
)
from filters.neutralise.warp import covered_map, remap_bgra

UPPER_CROP_WIDTH = 160  # pixels: the brow band at 720p is ~300 px wide; half is plenty for wrinkles and brows
BELOW_EYES = 0.22  # eye distances below the lower eyelids that the band reaches (crow's feet, lower-lid bulge)
RENDER_OVERSAMPLE = 1.0  # band rendered at the crop's own resolution (at most the frame's)
MIN_ALPHA = 0.01  # below this the band is not blended at all (its eased alpha only tends to zero)
HOLE_GROWTH = (1.1, 1.9)  # eye-opening hole about its centre: open eye, closed eye (the whole lid stays own)
LID_REACH = 0.4  # a closed eye's hole reaches this many eye widths above and below its lid line
# The brow and eye blendshapes the texture answers to (blinks and gaze are not expression).
UPPER_NAMES = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "eyeWideLeft", "eyeWideRight", "eyeSquintLeft", "eyeSquintRight",
)  # fmt: skip
UPPER_SCORES = np.array([BLENDSHAPE_INDEX[n] for n in UPPER_NAMES], dtype=np.intp)
_SQUINTS = np.array([k for k, n in enumerate(UPPER_NAMES) if n.startswith("eyeSquint")], dtype=np.intp)
# Eye openings as closed contours (right eye, left eye): the upper lid then the lower lid back.
_EYE_RINGS = (
    np.r_[33, EYELIDS[0:7], 133, EYELIDS[7:14][::-1]],
    np.r_[263, EYELIDS[14:21], 362, EYELIDS[21:28][::-1]],
)
_MESH = TRIANGLES[(TRIANGLES < NUM_LANDMARKS).all(axis=1)]


def upper_band_limit(points: np.ndarray) -> float:
    """Image row (of frontal ``points``, y down) that bounds the band from below: just under the lower lids."""
    eye_distance = float(np.linalg.norm(points[33, :2] - points[263, :2]))
    return float(points[EYELIDS, 1].max()) + BELOW_EYES * eye_distance


def band_triangles(points: np.ndarray) -> np.ndarray:
    """Mesh triangles (eye openings included; they are masked out later) wholly above the band's lower limit,
    for a near-frontal shape's (478, 2) points."""
    below = points[:NUM_LANDMARKS, 1] > upper_band_limit(points)
    return _MESH[~below[_MESH].any(axis=1)]


def upper_crop(frame: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(BGR crop of the brow, forehead and eye band, all landmarks in crop pixels), scaled to at most
    ``UPPER_CROP_WIDTH`` wide; None if the band is not wholly inside the frame."""
    band = landmarks[np.unique(band_triangles(landmarks[:, :2])), :2]
    x0, y0 = np.floor(band.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(band.max(axis=0)).astype(int) + 2
    return scaled_crop(frame, landmarks, (x0, y0, x1, y1), UPPER_CROP_WIDTH, min_size=16)


def _departures(blendshapes: np.ndarray, reference_scores: np.ndarray | None) -> np.ndarray:
    """Per UPPER_SCORES entry, how far the face is from the reference frame: a score above the reference's, and for
    the squints also one below it (someone whose relaxed eyes score as squinting shows widened eyes mostly as
    their squint dropping, not as "eyeWide" rising)."""
    scores = np.asarray(blendshapes, np.float32)[UPPER_SCORES]
    base = np.zeros_like(scores) if reference_scores is None else np.asarray(reference_scores, np.float32)
    departures = np.maximum(scores - base, 0.0)
    departures[_SQUINTS] = np.abs(scores - base)[_SQUINTS]
    return departures


def upper_excess(blendshapes: np.ndarray, reference_scores: np.ndarray | None) -> float:
    """How far the brows and eyes are from the reference's (the largest of :func:`_departures`)."""
    return float(_departures(blendshapes, reference_scores).max())


_EYE_SCORES = tuple(  # per eye (subject's right = image left, then left): its positions in UPPER_SCORES
    [UPPER_NAMES.index(f"eyeWide{side}"), UPPER_NAMES.index(f"eyeSquint{side}")] for side in ("Right", "Left")
)


def eye_excess(blendshapes: np.ndarray, reference_scores: np.ndarray | None) -> tuple[float, float]:
    """(subject's right eye, left eye): how far each eye is widened or squinted from the reference frame's."""
    departures = _departures(blendshapes, reference_scores)
    return tuple(float(departures[k].max()) for k in _EYE_SCORES)  # type: ignore[return-value]


_IRIS_CENTRES = np.array([468, 473], dtype=np.intp)  # per eye (subject's right, then left), as in EYE_CORNERS
_CORNER_PAIRS = np.array(EYE_CORNERS, dtype=np.intp)


def _gaze(points: np.ndarray) -> np.ndarray:
    """(2, 2): per eye, the iris centre's offset from the eye's mid-corner point, in the eye's own axes (along the
    corner line, across it), in eye widths."""
    pts = np.asarray(points, np.float64)[:, :2]
    start, end = pts[_CORNER_PAIRS[:, 0]], pts[_CORNER_PAIRS[:, 1]]
    axis = end - start
    width = np.maximum(np.linalg.norm(axis, axis=1), 1e-6)
    along = axis / width[:, None]
    across = np.stack([-along[:, 1], along[:, 0]], axis=1)
    offset = pts[_IRIS_CENTRES] - 0.5 * (start + end)
    return np.stack([(offset * along).sum(axis=1), (offset * across).sum(axis=1)], axis=1) / width[:, None]


def gaze_difference(points: np.ndarray, reference_points: np.ndarray | None) -> tuple[float, float]:
    """(subject's right eye, left eye): how far each iris sits from where it sits in the reference frame, in eye
    widths (0 = looking the same way; 1 when there is no reference)."""
    if reference_points is None or len(reference_points) <= _IRIS_CENTRES.max():
        return (1.0, 1.0)
    diff = np.linalg.norm(_gaze(points) - _gaze(reference_points), axis=1)
    return float(diff[0]), float(diff[1])


EYE_FILL = (0.05, 0.25)  # eye widening/squinting above the reference's over which its eye covers the current one
# Iris offset from the band frame's (eye widths) over which the reference's eye stops covering an eye: pasted only
# while the person looks the way they looked in that frame, it never changes where they look.
GAZE_TOLERANCE = (0.06, 0.12)


def eye_fills(
    blendshapes: np.ndarray,
    points: np.ndarray,
    reference_scores: np.ndarray | None,
    reference_points: np.ndarray | None,
) -> tuple[float, float]:
    """(subject's right eye, left eye): how much of each eye the reference's own eye covers (0..1, see
    :func:`eye_hole`). A widened or squinting eye is covered in proportion to how far it departs from the reference
    frame's; so is an eye looking the way the reference's looks: its lids then still carry the small squints and
    widenings the scores miss, and the pasted eye matches the pasted brow above it. Eyes looking elsewhere keep
    their own irises unless one squints or widens (a calm glance aside is not expression). Both eyes are covered
    alike: the reference's eye pasted into one only would leave the two looking different ways."""
    fills = smoothstep(*EYE_FILL, np.array(eye_excess(blendshapes, reference_scores)))
    same_gaze = 1.0 - smoothstep(*GAZE_TOLERANCE, np.array(gaze_difference(points, reference_points)))
    both = float(np.maximum(fills, same_gaze).max())
    return both, both


# Where along the eye (0..1, from the outer corner) the pasted iris may sit at most off the middle, and the part
# of the opening around the iris that moves with it as one piece (half its width, eye widths: an iris is about 0.4
# eye widths across), so the iris keeps its round shape while the white on each side stretches or shrinks.
GAZE_FOLLOW_LIMIT = 0.25
IRIS_HALF_WIDTH = 0.2
CORNER_MARGIN = 0.05  # eye widths the moving part keeps from each corner: the corners never move
# Eye widths around the opening (lids, lashes, the skin by them) that move with the iris: the first half fully,
# the second half fading out.
LID_FOLLOW = 0.4


def _along_profile(iris_at: float, iris_from: float) -> tuple[list[float], list[float]]:
    """Knots (target positions along the eye, how far of the iris's move each takes) of a piecewise-linear move
    that carries the iris from ``iris_from`` to ``iris_at`` (0..1 along the eye) and leaves the corners put. Each
    stretch between knots maps onto its own stretch of the reference in order, so nothing folds over."""
    half = min(IRIS_HALF_WIDTH, *(x - CORNER_MARGIN for x in (iris_at, iris_from, 1 - iris_at, 1 - iris_from)))
    half = max(half, 0.0)
    return [0.0, iris_at - half, iris_at + half, 1.0], [0.0, 1.0, 1.0, 0.0]


def _share_along(along: np.ndarray, iris_at: float, iris_from: float) -> np.ndarray:
    """How far of the iris's move each position ``along`` the eye takes: :func:`_along_profile`'s piecewise-linear
    profile, which rises from the outer corner, holds at 1 over the iris and falls to the inner corner (0 beyond
    both); its inner knots keep at least :data:`CORNER_MARGIN` from the corners, so neither slope divides by 0."""
    (_, rise_end, fall_start, _), _ = _along_profile(iris_at, iris_from)
    return np.clip(np.minimum(along / np.float32(rise_end), (1.0 - along) / np.float32(1.0 - fall_start)), 0.0, 1.0)


def glance_along(points: np.ndarray) -> np.ndarray:
    """(2,): per eye (subject's right, left), the iris centre's offset from the middle of the eye along its
    corner line, in eye widths, for (478, 2+) landmarks (positive towards the inner corner)."""
    return _gaze(points)[:, 0]


def follow_gaze(maps: np.ndarray, points: np.ndarray, placed: np.ndarray, looking: np.ndarray) -> None:
    """Move the reference's irises in a paste's ``maps`` (in place: per output pixel, where to sample the reference
    crop) to the person's own gaze along each eye. ``points``: the reference crop's landmarks; ``placed``: the
    target landmarks in the maps' pixels; ``looking``: the person's :func:`glance_along`, taken on their own
    eyes (the target's corners are the reference's, moved: measured against them a glance reads larger or
    smaller than it is). The reference frame's eyes look where it looked: pasted unchanged over a squint, they
    would turn a glance at notes into a stare at the camera. The lids around the opening follow, fading out over
    :data:`LID_FOLLOW`, while the corners stay put. Only the glance along the eyes that both share
    follows: eyes crossed or apart are a face pulled, not a look (followed, d6's crossed eyes read as raised
    brows); and nothing follows up or down, where the iris goes with the lids, which the paste is there to set."""
    if len(points) <= _IRIS_CENTRES.max():
        return  # a reference saved without irises: nothing to move
    reference = glance_along(points)
    # The eyes' corner lines run opposite ways in the image: one glance aside moves the two offsets oppositely.
    shared = (float(looking[0] - looking[1]) - float(reference[0] - reference[1])) / 2
    lo, hi = 0.5 - GAZE_FOLLOW_LIMIT, 0.5 + GAZE_FOLLOW_LIMIT
    iris_from = np.clip(0.5 + reference, lo, hi)
    iris_at = np.clip(0.5 + reference + np.array([shared, -shared]), lo, hi)
    height, width = maps.shape[:2]
    for ring, (outer, inner), at, start in zip(_EYE_RINGS, _CORNER_PAIRS, iris_at, iris_from):
        if abs(float(at - start)) < 1e-3:
            continue
        move = float(at - start) * (points[inner, :2] - points[outer, :2])  # in the reference crop's pixels
        opening, axis = placed[ring, :2], placed[inner, :2] - placed[outer, :2]
        pad = max(1, round(0.5 * LID_FOLLOW * float(np.linalg.norm(axis))))
        x0, y0 = np.maximum(np.floor(opening.min(axis=0)).astype(int) - 2 - 2 * pad, 0)
        x1, y1 = np.minimum(np.ceil(opening.max(axis=0)).astype(int) + 3 + 2 * pad, (width, height))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(inside, [np.round(opening - (x0, y0)).astype(np.int32)], 255)
        # The lids and the skin next to them go along, fading out: a real upper lid's highest point follows the
        # iris, and a sideways iris under a lid centred as if looking ahead reads as squinting (d6 0.250 -> 0.248,
        # d12 gaze correlation 0.80 -> 0.90).
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pad + 1, 2 * pad + 1))
        soft = cv2.GaussianBlur(cv2.dilate(inside, kernel).astype(np.float32) / 255.0, (2 * pad + 1, 2 * pad + 1), 0)
        # Where each pixel lies along the eye (0 at the outer corner, 1 at the inner): linear in x and y, so a
        # row plus a column (a meshgrid and np.interp over the box took about a third of this function's time).
        corner = placed[outer, :2] - (x0, y0)
        per_pixel = axis / max(float(axis @ axis), 1e-6)
        along = ((np.arange(x1 - x0) - corner[0]) * per_pixel[0]).astype(np.float32) + (
            (np.arange(y1 - y0) - corner[1]) * per_pixel[1]
        ).astype(np.float32)[:, None]
        weight = soft * _share_along(along, float(at), float(start))
        box = maps[y0:y1, x0:x1]
        box[..., 0] -= weight * np.float32(move[0])
        box[..., 1] -= weight * np.float32(move[1])


class EyeHole(NamedTuple):
    """The hole the band leaves over one eye: the eye opening scaled by ``scale`` about its centre, plus, for a
    closing eye, an ellipse along the lid line ``lid`` (0..1) times :data:`LID_REACH` eye widths high (a closed
    eye's opening is a slit, which scaled stays a slit and would let the reference's open-eye lids in)."""

    scale: float
    lid: float


def eye_hole(closure: float, fill: float) -> EyeHole:
    """The hole for an eye that a blink closes by ``closure`` and that is widened or squinted by ``fill`` (0..1):
    the open eye's own opening, grown over the whole lid as the eye closes in a blink, and shrunk to nothing as
    ``fill`` rises, so the reference's own eye (lids, lashes and the white around the iris) covers a widened or
    squinting one from the lids inwards."""
    closing = float(smoothstep(0.3, 0.6, closure))
    grown = HOLE_GROWTH[0] + (HOLE_GROWTH[1] - HOLE_GROWTH[0]) * closing
    return EyeHole(grown * (1.0 - float(np.clip(fill, 0.0, 1.0)) * (1.0 - closing)), closing)


def _cut_hole(mask: np.ndarray, contour: np.ndarray, hole: EyeHole) -> None:
    centre = contour.mean(axis=0)
    if hole.scale > 0.05:
        cv2.fillPoly(mask, [np.round(centre + hole.scale * (contour - centre)).astype(np.int32)], 0)
    if hole.lid > 0.0:
        corners = contour[0] - contour[len(contour) // 2]  # the ring starts at one corner, the other is midway
        width = float(np.linalg.norm(corners))
        angle = float(np.degrees(np.arctan2(corners[1], corners[0])))
        axes = (round(0.5 * HOLE_GROWTH[1] * width), max(1, round(LID_REACH * hole.lid * width)))
        cv2.ellipse(mask, (round(float(centre[0])), round(float(centre[1]))), axes, angle, 0, 360, 0, -1)


_OPEN_EYE = eye_hole(0.0, 0.0)  # an open, calm eye's own hole: left out wherever light is measured


def _without_open_eyes(covered: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A copy of the uint8 mask ``covered`` with the open eyes' holes at landmark ``points`` cut out."""
    where = covered.copy()
    for ring in _EYE_RINGS:
        _cut_hole(where, points[ring, :2], _OPEN_EYE)
    return where


# Band widths: the ring inside the band's outline whose pixels are replaced by the skin further in. The tracker's
# face contour sits a pixel or two outside the skin, so the reference's outermost triangles carry hair or
# background; a turned face squeezes its far side's triangles inwards and draws that as a dark dash on the cheek.
EDGE_RING = 0.03


def _skin_to_the_edge(image: np.ndarray, band: np.ndarray, ring: int) -> np.ndarray:
    """``image`` with the pixels of the uint8 mask ``band`` within ``ring`` pixels of its outline (and everything
    outside it, as far as the fill reaches) replaced by the mean of the band's skin further in nearby, fading back
    to the image's own over the next ``ring`` pixels (a hard step would show as a staircase on a squeezed side)."""
    half = max(1, round(0.5 * ring))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * (ring + half) + 1, 2 * (ring + half) + 1))
    inner = cv2.erode(band, kernel).astype(np.float32)
    own = cv2.blur(inner, (2 * half + 1, 2 * half + 1))[..., None]  # 0 up to ``ring`` inside, 1 from 2 * ring
    reach = (4 * ring + 1, 4 * ring + 1)  # from the inner skin out past the outline
    weight = cv2.blur(inner, reach)[..., None]
    fill = cv2.blur(image.astype(np.float32) * inner[..., None], reach) / np.maximum(weight, 1e-3)
    mixed = own * image + (1.0 - own) * fill
    return np.where(weight > 1e-3, np.clip(mixed + 0.5, 0, 255), image).astype(np.uint8)


class _BandSource:
    """What a reference band needs every frame that depends on the reference alone: its triangles, and the crop
    (skin carried out to its edge) ready for relighting with its Lab statistics over the band without the eye
    openings (once per reference crop)."""

    def __init__(self, image: np.ndarray, points: np.ndarray) -> None:
        self.triangles = band_triangles(points)
        self.vertices = np.unique(self.triangles)
        self.width = float(np.ptp(points[self.vertices, 0])) if len(self.vertices) else 0.0
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, list(np.round(points[self.triangles, :2]).astype(np.int32)), 1)
        skin = _skin_to_the_edge(image, mask, max(1, round(EDGE_RING * self.width)))
        # Relit as a change of light: matched by mean and spread, a band in shade (d3's lowered head) took the
        # whole shift on its lashes and irises too, and the pasted eyes came out near-black.
        self.relit = RelitCrop(skin, _without_open_eyes(mask, points), SCALED_LIGHT)


_band_source = LastBuilt(_BandSource)


def blend_upper(
    frame: np.ndarray,
    target: np.ndarray,
    image: np.ndarray,
    points: np.ndarray,
    holes: tuple[EyeHole, EyeHole],
    alpha: float,
    step: int,
    looking: np.ndarray | None = None,
) -> None:
    """Blend the reference's brow/forehead/eye band into ``frame`` (in place) at the ``target`` landmark
    positions (pixels); ``holes``: per eye (subject's right, left), the hole left over it (:func:`eye_hole`);
    ``looking``: the person's :func:`glance_along` on their own landmarks (default: on ``target``'s), which the
    pasted irises follow."""
    if alpha <= MIN_ALPHA:
        return
    band = _band_source(image, points)
    if len(band.triangles) == 0 or band.relit.stats is None:
        return
    height, width = frame.shape[:2]
    corners = target[band.vertices, :2]
    x0 = max(int(np.floor(corners[:, 0].min())), 0)
    y0 = max(int(np.floor(corners[:, 1].min())), 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 1, width)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 1, height)
    if x1 - x0 < 16 or y1 - y0 < 8:
        return
    # Rendered at the crop's own resolution (finer would add no detail, only cost), then resized to the frame.
    scale = float(np.clip(RENDER_OVERSAMPLE * band.width / max(float(np.ptp(corners[:, 0])), 1.0), 0.25, 1.0))
    size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
    placed = (target[:NUM_LANDMARKS, :2] - np.array([x0, y0], np.float32)) * np.float32(scale)
    maps, hard = covered_map(points, placed, band.triangles, (0, 0, *size), max(2, round(step * scale)))
    follow_gaze(maps, points, placed, glance_along(placed) if looking is None else looking)
    region = frame[y0:y1, x0:x1]
    small = cv2.resize(region, size, interpolation=cv2.INTER_LINEAR)
    # Lighting: the current band's Lab statistics are put on the small reference crop before it is warped. Both
    # are measured without the open eyes (whatever this frame's holes): lashes, irises and lowered lids in the
    # current band would otherwise darken the whole pasted band, its eyes most of all.
    lit = band.relit.relit(lambda: lab_stats(small, _without_open_eyes(hard, placed)))
    if lit is None:
        return
    for ring, hole in zip(_EYE_RINGS, holes):
        _cut_hole(hard, placed[ring], hole)
    source = remap_bgra(lit, maps)
    cv2.copyTo(small, cv2.bitwise_not(hard), source)  # uncovered pixels: the frame's own (nothing to bleed in)
    # Feathered inside the covered area only (outside it the map means nothing; notches of the band's lower edge
    # can leave an uncovered node inside the blur's reach).
    eye_distance = float(np.linalg.norm(placed[33] - placed[263]))
    mask = feather_inside(hard, max(2, int(0.12 * eye_distance))) * float(min(alpha, 1.0))
    full = (x1 - x0, y1 - y0)
    blend_into(
        region,
        cv2.resize(source, full, interpolation=cv2.INTER_LINEAR),
        cv2.resize(mask, full, interpolation=cv2.INTER_LINEAR),
    )

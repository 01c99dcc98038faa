"""How much expression a filter lets through, measured with MediaPipe's blendshapes.

The measure is deliberately independent of the filter: the output frames are re-measured by a *fresh* Face
Landmarker in IMAGE mode (every frame on its own, no tracking state, no smoothing), never by the tracker the
filter ran on. The baseline is the person's own neutral face, not zero: people's relaxed faces score differently.

Definitions (the README's "Measuring filter strength" section explains how to read them):

- *affect residual* of a frame: sum over :data:`EXPRESSION_BLENDSHAPES` of ``|score - neutral score|``.
- *leakage ratio*: total residual of the output / total residual of the input, over the more expressive half of
  the input frames (the half where there is expression to leak). 1 = everything got through, 0 = nothing did.
- A frame where the fresh landmarker finds no face in the OUTPUT counts as the neutral face (residual 0, jawOpen at
  its neutral value): an erased face shows no expression. That is why the lab always reports *face kept* beside
  leakage: "leakage 0, face kept 0" means the face is gone, not neutralised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from app.tracking import IMAGE, FaceTracker
from filters.base import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, Face

# Everything the face does that reads as expression. Left out on purpose:
# - "_neutral": a model-internal score, not a movement;
# - eyeBlink*: blinking is not an expression (the neutraliser keeps blinks on purpose);
# - eyeLook*: gaze direction is not an expression either, and the filters do not try to hide it.
# jawOpen and the lip movements stay in: an open mouth is expression too (surprise, laughing) even though
# speech also moves it; "speech kept" measures the articulation side of that trade-off separately.
EXPRESSION_BLENDSHAPES: tuple[str, ...] = tuple(
    name
    for name in BLENDSHAPE_NAMES
    if name != "_neutral" and not name.startswith("eyeBlink") and not name.startswith("eyeLook")
)

# Families reported separately, so "removes the smile but keeps the mouth moving" is visible in numbers.
FAMILIES: dict[str, tuple[str, ...]] = {
    # cheekSquint rises with a real (Duchenne) smile, so it belongs to the smile, not to the eyes.
    "smile": ("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "cheekSquintRight"),
    "brows": ("browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight"),
    "eyes": ("eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight"),
    "mouth_open": ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight"),
    # Not in the original contract, added: the negative-affect mouth (frowning, sneering, pressing the lips).
    "frown": (
        "mouthFrownLeft",
        "mouthFrownRight",
        "mouthStretchLeft",
        "mouthStretchRight",
        "mouthPressLeft",
        "mouthPressRight",
        "noseSneerLeft",
        "noseSneerRight",
    ),
}

# A family counts as "expressed" in an input only when its mean residual over the selected frames reaches this;
# below it the ratio is noise over noise (e.g. the smile family on a clip where nobody smiles) and is reported NaN.
MIN_FAMILY_RESIDUAL = 0.05

JAW_OPEN = BLENDSHAPE_INDEX["jawOpen"]


def _indices(names: Iterable[str]) -> np.ndarray:
    return np.array([BLENDSHAPE_INDEX[n] for n in names], dtype=np.intp)


_EXPRESSION_INDEX = _indices(EXPRESSION_BLENDSHAPES)


def measure_faces(frames: Iterable[np.ndarray], model_path: str | Path) -> tuple[np.ndarray, list[Face | None]]:
    """Blendshapes ``(N, 52)`` (NaN rows where no face is found) and the face found in each frame (or None),
    from a fresh IMAGE-mode Face Landmarker (one face: the lab measures single-person clips)."""
    rows: list[np.ndarray] = []
    faces: list[Face | None] = []
    nan_row = np.full(len(BLENDSHAPE_NAMES), np.nan, np.float32)
    with FaceTracker(model_path, mode=IMAGE, smoothing=None) as tracker:
        for frame in frames:
            found = tracker.track(frame)
            face = found[0] if found else None
            faces.append(face)
            rows.append(face.blendshapes if face is not None else nan_row)
    table = np.stack(rows).astype(np.float32) if rows else np.zeros((0, len(BLENDSHAPE_NAMES)), np.float32)
    return table, faces


def measure_blendshapes(frames: Iterable[np.ndarray], model_path: str | Path) -> np.ndarray:
    """``(N, 52)`` blendshapes of each frame by a fresh IMAGE-mode landmarker; NaN rows where no face is found.
    Use :func:`measure_faces` to get the landmarks too (jitter, judge crops)."""
    return measure_faces(frames, model_path)[0]


def face_found(bs: np.ndarray) -> np.ndarray:
    """(N,) bool: frames where a face was found (rows that are not NaN)."""
    return ~np.isnan(np.asarray(bs, np.float32)).any(axis=1)


def neutral_frame(input_bs: np.ndarray, names: Sequence[str] = EXPRESSION_BLENDSHAPES) -> int:
    """Index of the person's most neutral frame: the input frame with the lowest sum of expression scores.
    Raises ValueError if no frame has a face."""
    bs = np.asarray(input_bs, np.float32)
    found = face_found(bs)
    if not found.any():
        raise ValueError("no face found in any input frame: nothing to measure against")
    expression = np.where(found, np.nansum(bs[:, _indices(names)], axis=1), np.inf)
    return int(np.argmin(expression))


def neutral_blendshapes(input_bs: np.ndarray, names: Sequence[str] = EXPRESSION_BLENDSHAPES) -> np.ndarray:
    """The (52,) scores of the person's most neutral frame (:func:`neutral_frame`)."""
    return np.asarray(input_bs, np.float32)[neutral_frame(input_bs, names)].copy()


def affect_residual(
    bs: np.ndarray,
    neutral: np.ndarray,
    names: Sequence[str] = EXPRESSION_BLENDSHAPES,
    *,
    excess_only: bool = False,
) -> np.ndarray:
    """(N,) sum over ``names`` of |score - neutral score|; NaN where the row has no face.

    ``excess_only``: only scores above the neutral frame's count. A blendshape is an activation (0 = that part of
    the face at rest), so a score below the neutral frame's is a face calmer than that frame, not expression."""
    idx = _indices(names)
    bs = np.asarray(bs, np.float32)
    difference = bs[:, idx] - np.asarray(neutral, np.float32)[idx]
    return (np.maximum(difference, 0.0) if excess_only else np.abs(difference)).sum(axis=1)


def expressive_half(input_residual: np.ndarray) -> np.ndarray:
    """(N,) bool: input frames with a face whose residual is at least the median (the more expressive half)."""
    valid = ~np.isnan(input_residual)
    if not valid.any():
        return valid
    return valid & (np.nan_to_num(input_residual, nan=-np.inf) >= np.median(input_residual[valid]))


def leakage_ratio(
    input_bs: np.ndarray,
    output_bs: np.ndarray,
    neutral: np.ndarray | None = None,
    names: Sequence[str] = EXPRESSION_BLENDSHAPES,
    *,
    min_input_residual: float = 0.0,
    excess_only: bool = False,
    within: np.ndarray | None = None,
) -> float:
    """Residual of the output / residual of the input, summed over the more expressive half of the input frames
    (chosen by the residual over ``names``). Output frames without a face count as neutral (residual 0).

    ``neutral`` defaults to :func:`neutral_blendshapes` of the input. NaN when the input shows no expression
    (mean input residual over the selected frames at most ``min_input_residual``). ``excess_only``: both
    residuals count only expression beyond the neutral frame (see :func:`affect_residual`); the frames are the
    same ones. ``within`` ((N,) bool): only the expressive-half frames among these count (the half is still chosen
    over all frames), to tell which frames the leakage comes from."""
    input_bs = np.asarray(input_bs, np.float32)
    output_bs = np.asarray(output_bs, np.float32)
    if input_bs.shape != output_bs.shape:
        raise ValueError(f"input and output blendshapes differ in shape: {input_bs.shape} vs {output_bs.shape}")
    if neutral is None:
        neutral = neutral_blendshapes(input_bs)
    residual_in = affect_residual(input_bs, neutral, names)
    selected = expressive_half(residual_in)
    if within is not None:
        selected &= np.asarray(within, bool)
    if not selected.any():
        return float("nan")
    if excess_only:
        residual_in = affect_residual(input_bs, neutral, names, excess_only=True)
    total_in = float(residual_in[selected].sum())
    if total_in <= 0.0 or total_in / selected.sum() <= min_input_residual:
        return float("nan")
    residual_out = np.nan_to_num(affect_residual(output_bs, neutral, names, excess_only=excess_only), nan=0.0)
    return float(residual_out[selected].sum()) / total_in


CLOSED_EYE = 0.5  # eyeBlink score from which an eye counts as shut


def held_eye_closures(bs: np.ndarray, min_frames: int) -> np.ndarray:
    """(N,) bool: frames in a run of at least ``min_frames`` consecutive frames with both eyes shut (both
    eyeBlink scores at least :data:`CLOSED_EYE`): eyes held shut, not a blink. The blendshape model reads a shut
    eye as squinting too, however relaxed its lids, so such runs are reported apart."""
    bs = np.asarray(bs, np.float32)
    blinks = bs[:, [BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"]]]
    shut = np.nan_to_num(blinks).min(axis=1) >= CLOSED_EYE  # a frame without a face (NaN) is not shut
    held = np.zeros(len(shut), bool)
    start = None
    for i, now in enumerate([*shut, False]):
        if now and start is None:
            start = i
        elif not now and start is not None:
            if i - start >= min_frames:
                held[start:i] = True
            start = None
    return held


def family_leakage(
    input_bs: np.ndarray,
    output_bs: np.ndarray,
    neutral: np.ndarray | None = None,
    families: Mapping[str, Sequence[str]] = FAMILIES,
) -> dict[str, float]:
    """Leakage per family, each over the frames where THAT family is most expressed; NaN for families the input
    hardly shows (see :data:`MIN_FAMILY_RESIDUAL`)."""
    if neutral is None:
        neutral = neutral_blendshapes(input_bs)
    return {
        family: leakage_ratio(input_bs, output_bs, neutral, names, min_input_residual=MIN_FAMILY_RESIDUAL)
        for family, names in families.items()
    }


def speech_kept(input_bs: np.ndarray, output_bs: np.ndarray, neutral: np.ndarray | None = None) -> float:
    """Pearson correlation of jawOpen between input and output, over the input frames with a face.

    Output frames without a face take the neutral jawOpen (no articulation shown). A constant output (e.g. the
    face erased everywhere) keeps no speech: 0. NaN only when the input's own jawOpen never moves."""
    input_bs = np.asarray(input_bs, np.float32)
    output_bs = np.asarray(output_bs, np.float32)
    if neutral is None:
        neutral = neutral_blendshapes(input_bs)
    valid = face_found(input_bs)
    jaw_in = input_bs[valid, JAW_OPEN].astype(np.float64)
    jaw_out = np.where(np.isnan(output_bs[valid, JAW_OPEN]), neutral[JAW_OPEN], output_bs[valid, JAW_OPEN])
    jaw_out = jaw_out.astype(np.float64)
    if len(jaw_in) < 3 or np.std(jaw_in) < 1e-6:
        return float("nan")
    if np.std(jaw_out) < 1e-6:
        return 0.0
    return float(np.corrcoef(jaw_in, jaw_out)[0, 1])


# Per eye (subject's right, then left): outer corner, inner corner, iris centre (MediaPipe mesh numbering).
_EYES_FOR_GAZE = ((33, 133, 468), (263, 362, 473))


def glance(face: Face) -> float:
    """Where the eyes look along the image's x axis, in eye widths: the iris centres' offsets from the middle of
    their eyes along the corner lines, the glance both eyes share (crossed eyes cancel)."""
    offsets = []
    for outer, inner, iris in _EYES_FOR_GAZE:
        start, end = face.points[outer].astype(np.float64), face.points[inner].astype(np.float64)
        axis = end - start
        offsets.append(float((face.points[iris] - 0.5 * (start + end)) @ axis) / max(float(axis @ axis), 1e-9))
    # The two corner lines run opposite ways in the image: a glance aside moves the two offsets oppositely.
    return 0.5 * (offsets[0] - offsets[1])


def gaze_kept(input_faces: Sequence[Face | None], output_faces: Sequence[Face | None]) -> tuple[float, float]:
    """(Pearson correlation of :func:`glance` between input and output, mean |difference| in eye widths) over
    the frames with a face in both; gaze is not expression, so a neutraliser should keep it (1, 0). NaN when
    fewer than three frames pair up or the input never glances."""
    pairs = np.array([(glance(a), glance(b)) for a, b in zip(input_faces, output_faces) if a and b], np.float64)
    if len(pairs) < 3 or np.std(pairs[:, 0]) < 1e-6:
        return float("nan"), float("nan")
    difference = float(np.abs(pairs[:, 0] - pairs[:, 1]).mean())
    if np.std(pairs[:, 1]) < 1e-9:
        return 0.0, difference
    return float(np.corrcoef(pairs.T)[0, 1]), difference


def face_size(face: Face) -> float:
    """A scale for the face in pixels: the diagonal of its landmark bounding box."""
    pts = face.points
    return float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0)))


def _jitter_values(faces: Sequence[Face | None]) -> list[float]:
    values = []
    for a, b, c in zip(faces, faces[1:], faces[2:]):
        if a is None or b is None or c is None:
            continue
        second = a.points - 2.0 * b.points + c.points
        values.append(float(np.linalg.norm(second, axis=1).mean()) / max(face_size(b), 1.0))
    return values


def landmark_jitter(faces: Sequence[Face | None]) -> float:
    """Mean |second difference| of the landmarks over consecutive frames, in face sizes.

    Steady motion has zero second difference, so this mostly measures shake. Only triples of consecutive frames
    that all have a face count; NaN if there are none."""
    values = _jitter_values(faces)
    return float(np.mean(values)) if values else float("nan")


# Jitter compares like with like only when the output keeps the face in most of the input's frame triples; on a
# face found now and then (a half-erased face) it would measure the landmarker's guesses, not the filter.
MIN_JITTER_COVERAGE = 0.5


def jitter_ratio(input_faces: Sequence[Face | None], output_faces: Sequence[Face | None]) -> float:
    """Landmark jitter of the output / of the input (1 = as steady as the input, above 1 = the filter adds shake).
    NaN when the output keeps the face in fewer than :data:`MIN_JITTER_COVERAGE` of the input's frame triples."""
    values_in = _jitter_values(input_faces)
    values_out = _jitter_values(output_faces)
    if not values_in or len(values_out) < MIN_JITTER_COVERAGE * len(values_in):
        return float("nan")
    jitter_in = float(np.mean(values_in))
    return float(np.mean(values_out)) / jitter_in if jitter_in > 0 else float("nan")

"""The person's neutral face: pose-free landmarks plus the small mouth and brow-band textures the texture step needs.

Three ways to get one, all giving a :class:`NeutralReference`: :func:`reference_from_image` (one neutral frame),
:class:`Calibration` (a few seconds of relaxed face, robust median) and :class:`AutoReference` (a running estimate
from the least expressive frames seen so far). Saving is explicit (:meth:`NeutralReference.save`), atomic, and
stores only landmarks and two small crops (mouth; brows, forehead and eyes), never a full frame.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from filters.base import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, NUM_LANDMARKS, Face
from filters.neutralise.alignment import frontal_frame, to_pose_free
from filters.neutralise.basis import STRONG_EXPRESSION_INDEX, jaw_motion, neutral_estimate
from filters.neutralise.geometry import jaw_participation
from filters.neutralise.regions import (
    EYE_OUTER_CORNERS,
    LIPS,
    LOWER_LIP_INNER,
    LOWER_LIP_INNER_MID,
    LOWER_LIP_OUTER,
    UPPER_LIP_INNER,
    UPPER_LIP_INNER_MID,
)
from filters.neutralise.texture import lip_gap_ratio, scaled_crop
from filters.neutralise.upper import UPPER_SCORES, upper_crop

FORMAT_VERSION = 2  # 2 adds the brow band (upper_*); version 1 files still load (no band)
READABLE_VERSIONS = (1, 2)
DAMAGED = "the file is damaged or is not one Deadpan saved"  # what a file that is not a readable reference gets
MAX_LIP_GAP = 0.08  # inner lip gap / mouth width above which a mouth crop is not taken (lips parted)
LIP_GAP_PENALTY = 10.0  # expressiveness a lip gap ratio of 1 costs when the mouth texture is chosen (0.05 -> 0.5)
MOUTH_CROP_WIDTH = 144  # pixels: the lips and the skin around them at 720p; nothing else of the face
RESTING_LIP_GAP = 0.02  # eye distances: the most an auto reference's lips stay apart (a relaxed mouth is closed)

# Blendshapes that read as expression (blinks and gaze are not expression; the lab measures the same set).
EXPRESSION_INDEX = np.array(
    [i for i, n in enumerate(BLENDSHAPE_NAMES) if n != "_neutral" and not n.startswith(("eyeBlink", "eyeLook"))],
    dtype=np.intp,
)


def expressiveness(blendshapes: np.ndarray) -> float:
    """How far a frame is from a relaxed face, by the tracker's own scores (sum of expression blendshapes)."""
    return float(np.asarray(blendshapes, np.float32)[EXPRESSION_INDEX].sum())


@dataclass(frozen=True, eq=False)  # identity: settings holding one compare without comparing arrays
class NeutralReference:
    """``landmarks``: (478, 3) float32 in the pose-free frame (see :mod:`alignment`).
    ``mouth_image``: small BGR crop around the neutral mouth (or None: geometry only);
    ``mouth_points``: (478, 2) float32 landmark positions in that crop's pixels;
    ``upper_image``/``upper_points``: the same for the brow, forehead and eye band of a calm, open-eyed, frontal
    frame, and ``upper_scores``: that frame's brow and eye blendshapes (:data:`upper.UPPER_SCORES`), the level the
    band's blend is measured from."""

    landmarks: np.ndarray
    mouth_image: np.ndarray | None = None
    mouth_points: np.ndarray | None = None
    upper_image: np.ndarray | None = None
    upper_points: np.ndarray | None = None
    upper_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        if np.shape(self.landmarks) != (NUM_LANDMARKS, 3) or not np.isfinite(self.landmarks).all():
            raise ValueError("a neutral reference needs 478 finite 3-D landmarks")

    def save(self, path: str | Path) -> None:
        """Write atomically (temporary file + rename) as .npz; only landmarks and the mouth crop."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"version": np.array(FORMAT_VERSION), "landmarks": self.landmarks.astype(np.float32)}
        if self.mouth_image is not None and self.mouth_points is not None:
            arrays["mouth_image"] = self.mouth_image
            arrays["mouth_points"] = self.mouth_points.astype(np.float32)
        if self.upper_image is not None and self.upper_points is not None and self.upper_scores is not None:
            arrays["upper_image"] = self.upper_image
            arrays["upper_points"] = self.upper_points.astype(np.float32)
            arrays["upper_scores"] = self.upper_scores.astype(np.float32)
        fd, tmp = tempfile.mkstemp(prefix=".neutral-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez_compressed(handle, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> NeutralReference:
        """Read a saved reference; ValueError with a one-line reason if the file is not one (damaged, cut short,
        another kind of file, or written by a newer Deadpan). Never another exception: the app reads the saved
        face at start-up and must start anyway."""
        try:
            return cls._read(Path(path))
        except _NotAReference as exc:
            reason = str(exc)
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error):
            # numpy's own words (pickles, archives, allow_pickle=) mean nothing to the person who saved a face
            reason = DAMAGED
        raise ReferenceFileError(path, reason)

    @classmethod
    def _read(cls, path: Path) -> NeutralReference:
        if not zipfile.is_zipfile(path):  # np.load would try a pickle or a bare array: neither is a reference
            raise _NotAReference(DAMAGED)
        with np.load(path, allow_pickle=False) as data:
            if "version" not in data or "landmarks" not in data:
                raise _NotAReference("it holds no neutral face")
            version = int(data["version"])
            if version not in READABLE_VERSIONS:
                raise _NotAReference(f"written by a newer Deadpan, format {version}")
            upper = [data.get(k) for k in ("upper_image", "upper_points", "upper_scores")]
            if any(part is None for part in upper):
                upper = [None, None, None]
            return cls(data["landmarks"].astype(np.float32), data.get("mouth_image"), data.get("mouth_points"), *upper)


class ReferenceFileError(ValueError):
    """A file that should hold a saved neutral reference and does not; ``reason`` says why in a few words, so a
    message that already names the file need not repeat it."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path} is not a readable neutral reference ({reason})")
        self.path = Path(path)
        self.reason = reason


class _NotAReference(Exception):
    """Why a readable archive is still not a neutral reference, in the user's words."""


def inner_lip_gap(pose_free: np.ndarray) -> float:
    """Vertical inner lip gap of a pose-free shape, eye distances (about 0 for closed lips)."""
    return float(pose_free[LOWER_LIP_INNER_MID, 1] - pose_free[UPPER_LIP_INNER_MID, 1])


def close_lips(shape: np.ndarray, resting_gap: float) -> np.ndarray:
    """``shape`` with the jaw closed until the inner lip gap is at most ``resting_gap``.

    A relaxed face rests with the lips together, but the least expressive frames of someone who talks a lot often
    have them apart (the sum of blendshapes hardly registers a slightly open jaw), and a reference with parted
    lips would keep every open mouth partly open.

    The jaw closes along :func:`basis.jaw_motion`, learned from real faces: the gap is widest mid-mouth, and a
    lower lip raised as a whole as far as the middle needs passed through the upper one towards the corners (d10's
    reference by up to 0.08 eye distances), folding the warp there into dark streaks from the open mouth's
    corners. Without a basis the lower lip and chin rise as a whole, the corners and lower cheeks in proportion
    (:func:`jaw_participation`). Either way the lower lip stops where it meets the upper one."""
    excess = inner_lip_gap(shape) - resting_gap
    if excess <= 0.0:
        return shape
    motion = jaw_motion(shape)
    if motion is None:
        closed = shape.copy()
        closed[:, 1] -= excess * jaw_participation(shape)
    else:
        closed = (shape - excess * motion).astype(np.float32)
    crossed = np.minimum(closed[LOWER_LIP_INNER, 1] - closed[UPPER_LIP_INNER, 1], 0.0)
    closed[LOWER_LIP_INNER, 1] -= crossed
    closed[LOWER_LIP_OUTER, 1] -= crossed  # the lip keeps its thickness
    return closed


def mouth_texture_score(expressiveness_score: float, landmarks: np.ndarray) -> float:
    """How good a frame's mouth is as the neutral mouth texture (lower is better): calm, and lips closed rather than
    just under :data:`MAX_LIP_GAP` (a slightly parted reference shows its teeth as a dark spot when pasted)."""
    return expressiveness_score + LIP_GAP_PENALTY * lip_gap_ratio(landmarks[:, :2])


def mouth_crop(frame: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(BGR crop around the lips with a margin, all landmarks in crop pixels), scaled to at most
    ``MOUTH_CROP_WIDTH`` wide; None if the mouth is outside the frame or the lips are parted."""
    if lip_gap_ratio(landmarks[:, :2]) > MAX_LIP_GAP:
        return None  # parted lips would paste teeth or tongue back in: only a closed mouth is worth keeping
    lips = landmarks[LIPS, :2]
    lo, hi = lips.min(axis=0), lips.max(axis=0)
    margin = 0.6 * (hi - lo)[0]  # the grown blend mask and its feather (texture.MASK_GROWTH) stay inside
    x0, y0 = np.floor(lo - margin).astype(int)
    x1, y1 = np.ceil(hi + margin).astype(int)
    return scaled_crop(frame, landmarks, (x0, y0, x1, y1), MOUTH_CROP_WIDTH)


# Gaze away and closing lids: not expression (expressiveness leaves them out), but a reference or band frame showing
# them makes the output look sleepy, sad or absent.
_EYE_GAZE_BLINK = np.array(
    [i for n, i in BLENDSHAPE_INDEX.items() if n.startswith(("eyeLook", "eyeBlink"))], dtype=np.intp
)
_EYES_WIDE = np.array([BLENDSHAPE_INDEX["eyeWideLeft"], BLENDSHAPE_INDEX["eyeWideRight"]], dtype=np.intp)


class CalmBand:
    """Keeps the brow band crop of the calmest usable frame offered: eyes open, head near frontal (the band's
    extent is decided in image rows), least expression by the tracker's own scores."""

    MAX_TURN = 15.0  # degrees away from the camera
    MAX_ROLL = 10.0  # degrees of head tilt in the image
    MAX_BLINK = 0.3
    HYSTERESIS = 0.02  # a new crop must be this much calmer: no texture swaps on score noise

    def __init__(self) -> None:
        self.best: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.best_moving = False  # the kept crop came from a moving face (any still one replaces it)

    def offer(self, frame: np.ndarray, face: Face, turn_degrees: float, moving: bool = False) -> bool:
        """True when the kept crop changed. ``moving``: the face moved fast into this frame (see
        :func:`face_motion`); such a crop is kept only until a still one comes."""
        scores = np.asarray(face.blendshapes, np.float32)
        # The whole face's calm, not the brows' alone: the brow scores barely register a light frown. The band
        # also supplies the eyes painted over widened or squinting ones, so they must look ahead, open, not wide.
        # Widening is in expressiveness already; it counts twice more here because it shows the most.
        score = expressiveness(scores) + float(scores[_EYE_GAZE_BLINK].sum()) + 2.0 * float(scores[_EYES_WIDE].sum())
        if self.best is not None and (moving, score) >= (self.best_moving, self.best[0] - self.HYSTERESIS):
            return False
        blink = scores[[BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"]]].max()
        eye_line = face.landmarks[EYE_OUTER_CORNERS[1], :2] - face.landmarks[EYE_OUTER_CORNERS[0], :2]
        roll = abs(float(np.degrees(np.arctan2(eye_line[1], eye_line[0]))))
        if blink > self.MAX_BLINK or turn_degrees > self.MAX_TURN or roll > self.MAX_ROLL:
            return False
        crop = upper_crop(frame, face.landmarks)
        if crop is None:
            return False
        self.best = (score, *crop, scores[UPPER_SCORES].copy())
        self.best_moving = moving
        return True

    @property
    def parts(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        return self.best[1:] if self.best is not None else (None, None, None)


# Landmark motion since the previous frame (mean, in eye distances) above which a frame's crops are a last resort: a
# face moving that fast is motion-blurred and the tracker's points trail the pixels, so the crop's lips and brows
# sit off their landmarks and paste as a smear (d12: a crop taken mid-turn, moving 0.16, took leakage 0.24 -> 0.37
# where used). At 30 fps most frames of the shared clips move under 0.03.
STILL_MOTION = 0.04


def face_motion(points: np.ndarray, previous: np.ndarray | None) -> float:
    """Mean landmark displacement between two frames' (N, 2+) points, in eye distances (0 without a previous)."""
    if previous is None:
        return 0.0
    now, before = points[:, :2], previous[:, :2]
    eye_distance = max(float(np.linalg.norm(now[EYE_OUTER_CORNERS[0]] - now[EYE_OUTER_CORNERS[1]])), 1e-6)
    return float(np.linalg.norm(now - before, axis=1).mean()) / eye_distance


def turn_of(rotation: np.ndarray) -> float:
    """Degrees between the face normal and the camera axis, from a rotation into a frontal frame."""
    return float(np.degrees(np.arccos(np.clip(abs(rotation[2, 2]), 0.0, 1.0))))


# Words for the strong expressions, by blendshape name prefix (left and right share one).
EXPRESSION_WORDS = {
    "mouthSmile": "smiling",
    "jawOpen": "mouth open",
    "browInnerUp": "brows raised",
    "browOuterUp": "brows raised",
    "browDown": "brows lowered",
    "mouthFrown": "frowning",
    "eyeWide": "eyes wide open",
    "mouthPucker": "lips pushed out",
    "mouthFunnel": "lips pushed out",
    "mouthStretch": "lips stretched",
    "noseSneer": "nose wrinkled",
}
# A photo given as the reference is scored by the IMAGE-mode tracker, whose scores run higher than the live
# tracker's on the same face (the calmest frame of the clip with glasses: 0.41 against 0.19), so its limit is
# wider than calibration's; a smile scores 0.7 to 0.9.
PHOTO_MAX_BLENDSHAPE = 0.5
EYES_CLOSED = 0.5  # eyeBlink score above which the eyes count as closed


def expression_shown(blendshapes: np.ndarray, limit: float = PHOTO_MAX_BLENDSHAPE) -> str:
    """The unmistakable expressions a face shows (a strong blendshape over ``limit``, or closed eyes), in words,
    e.g. "smiling, brows raised"; "" for a relaxed face."""
    scores = np.asarray(blendshapes, np.float32)
    words = [
        next(word for prefix, word in EXPRESSION_WORDS.items() if BLENDSHAPE_NAMES[i].startswith(prefix))
        for i in STRONG_EXPRESSION_INDEX
        if scores[i] > limit
    ]
    if max(scores[BLENDSHAPE_INDEX["eyeBlinkLeft"]], scores[BLENDSHAPE_INDEX["eyeBlinkRight"]]) > EYES_CLOSED:
        words.append("eyes closed")
    return ", ".join(dict.fromkeys(words))


def reference_from_image(frame_bgr: np.ndarray, face: Face) -> NeutralReference:
    """A reference from one frame of the person's neutral face (the face as tracked in that frame)."""
    pose_free = frontal_frame(face.landmarks).apply(face.landmarks)
    crop = mouth_crop(frame_bgr, face.landmarks)
    band = upper_crop(frame_bgr, face.landmarks)
    upper = (*band, np.asarray(face.blendshapes, np.float32)[UPPER_SCORES]) if band is not None else (None,) * 3
    return NeutralReference(pose_free, *(crop if crop is not None else (None, None)), *upper)


class AutoReference:
    """Running neutral estimate for one face: the landmark-wise median of the least expressive frames seen so far
    (pose removed), so it is usable from the first frame and improves as calmer frames arrive."""

    KEEP = 9  # frames in the median: robust to a few odd ones, quick to settle
    # How much gaze away and closing lids count against a pool frame, per unit of score (held-out eval: d6 leakage
    # 0.31 -> 0.26, brows 0.39 -> 0.23; weight 1 did as well on leakage, but the judge called 14 fewer of the
    # happy/surprise frames neutral).
    GAZE_BLINK_WEIGHT = 2.0
    MARGIN = 0.25  # a frame joins only if within this much expressiveness of the calmest frame seen
    MAX_FIT_RESIDUAL = 0.04  # eye distances: frames whose skull fit is worse (extreme pose, bad track) are ignored

    def __init__(self) -> None:
        self.template: np.ndarray | None = None
        self._pool: list[tuple[float, np.ndarray]] = []
        self._mouth: tuple[tuple[bool, float], np.ndarray, np.ndarray] | None = None  # ((moving, score), crop)
        # How far the reference's lips may stay apart: the mouth crop frame's own gap, at most the resting gap.
        self._lip_gap = RESTING_LIP_GAP
        self.reference: NeutralReference | None = None
        self.frames_seen = 0
        self._lowest: np.ndarray | None = None  # per blendshape, the lowest score seen (personal resting levels)
        self._band = CalmBand()
        self._previous_points: np.ndarray | None = None

    def update(self, frame: np.ndarray, face: Face) -> NeutralReference:
        self.frames_seen += 1
        moving = face_motion(face.landmarks, self._previous_points) > STILL_MOTION
        self._previous_points = face.landmarks[:, :2].copy()
        score = expressiveness(face.blendshapes)
        scores = np.asarray(face.blendshapes, np.float32)
        self._lowest = scores.copy() if self._lowest is None else np.minimum(self._lowest, scores)
        if self.template is None:
            self.template = frontal_frame(face.landmarks).apply(face.landmarks)
        pose_free, sim, residual = to_pose_free(face.landmarks, self.template)
        best = min((s for s, _ in self._pool), default=np.inf)
        changed = False
        # Gaze and blinks are not expression, but the calmest frames by expression alone often look down, and
        # a reference with lowered lids makes every output look sleepy or sad: the pool prefers eyes ahead, open.
        pool_score = score + self.GAZE_BLINK_WEIGHT * float(scores[_EYE_GAZE_BLINK].sum())
        if residual <= self.MAX_FIT_RESIDUAL and pool_score <= best + self.MARGIN:
            # The expression the tracker reads in this frame is taken out first, so even a first frame that is
            # not calm gives a usable neutral guess; calmer frames need (and get) less correction.
            self._pool.append((pool_score, neutral_estimate(pose_free, face.blendshapes, self._lowest)))
            self._pool.sort(key=lambda item: item[0])
            floor = self._pool[0][0] + self.MARGIN
            self._pool = [item for item in self._pool[: self.KEEP] if item[0] <= floor]
            changed = True
        lips_score = (moving, mouth_texture_score(score, face.landmarks))
        if residual <= self.MAX_FIT_RESIDUAL and (self._mouth is None or lips_score < self._mouth[0]):
            # The texture comes from the calmest still frame with closed lips, which need not be in the pool.
            crop = mouth_crop(frame, face.landmarks)
            if crop is not None:
                self._mouth = (lips_score, *crop)
                self._lip_gap = min(max(0.0, inner_lip_gap(pose_free)), RESTING_LIP_GAP)
                changed = True
        if residual <= self.MAX_FIT_RESIDUAL and self._band.offer(frame, face, turn_of(sim.rotation), moving):
            changed = True
        if self.reference is None or changed:
            shapes = np.stack([shape for _, shape in self._pool]) if self._pool else pose_free[None]
            median = close_lips(np.median(shapes, axis=0).astype(np.float32), self._lip_gap)
            mouth = self._mouth[1:] if self._mouth is not None else (None, None)
            self.reference = NeutralReference(median, *mouth, *self._band.parts)
        return self.reference


class Calibration:
    """Collects relaxed frames for a fixed time and takes the landmark-wise median of the calmest ones.

    A frame is rejected when it shows an unmistakable expression, a blink, or a bad skull fit; of the rest, only
    frames within ``AutoReference.MARGIN`` of the calmest one are kept (a brief smile mid-calibration is dropped)."""

    MAX_BLENDSHAPE = 0.4
    MIN_FRAMES = 5

    def __init__(self, seconds: float, started_at: float) -> None:
        if seconds <= 0:
            raise ValueError("calibration needs a positive duration")
        self.seconds = seconds
        self.started_at = started_at
        self._template: np.ndarray | None = None
        self._shapes: list[tuple[float, np.ndarray]] = []
        self._mouth: tuple[float, np.ndarray, np.ndarray] | None = None
        self._band = CalmBand()

    def progress(self, now: float) -> float:
        return min(1.0, max(0.0, (now - self.started_at) / self.seconds))

    def add(self, frame: np.ndarray, face: Face) -> None:
        if expression_shown(face.blendshapes, self.MAX_BLENDSHAPE):
            return  # an expression, or a blink, which would teach the reference half-closed eyes
        if self._template is None:
            self._template = frontal_frame(face.landmarks).apply(face.landmarks)
        pose_free, sim, residual = to_pose_free(face.landmarks, self._template)
        if residual > AutoReference.MAX_FIT_RESIDUAL:
            return
        self._band.offer(frame, face, turn_of(sim.rotation))
        score = expressiveness(face.blendshapes)
        self._shapes.append((score, pose_free))
        lips_score = mouth_texture_score(score, face.landmarks)
        if self._mouth is None or lips_score < self._mouth[0]:
            crop = mouth_crop(frame, face.landmarks)
            if crop is not None:
                self._mouth = (lips_score, *crop)

    def result(self) -> NeutralReference | None:
        """The calibrated reference, or None when too few relaxed frames were seen."""
        if not self._shapes:
            return None
        calmest = min(score for score, _ in self._shapes)
        kept = [shape for score, shape in self._shapes if score <= calmest + AutoReference.MARGIN]
        if len(kept) < self.MIN_FRAMES:
            return None
        median = np.median(np.stack(kept), axis=0).astype(np.float32)
        mouth = self._mouth[1:] if self._mouth is not None else (None, None)
        return NeutralReference(median, *mouth, *self._band.parts)

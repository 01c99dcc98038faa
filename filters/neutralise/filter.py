"""``neutralise``: the person's own neutral face, in their current head pose and lighting, in real time."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from filters.base import Face, Filter
from filters.neutralise.basis import jaw_motion
from filters.neutralise.fallback import blur_face, close_mouth_gap
from filters.neutralise.geometry import blink_closure, compute_targets, jaw_participation, smoothstep
from filters.neutralise.mesh import TRIANGLES
from filters.neutralise.reference import AutoReference, Calibration, NeutralReference
from filters.neutralise.regions import REGIONS, landmark_weights
from filters.neutralise.texture import along_growth, blend_mouth, lip_gap_ratio
from filters.neutralise.upper import blend_upper, eye_fills, eye_hole, glance_along, upper_excess
from filters.neutralise.warp import warp_region
from filters.registry import register_filter

FALLOFF = 0.25  # eye distances: how far a region's pull reaches into the rest of the face (Gaussian sigma)
TURN_LIMIT = (25.0, 35.0)  # degrees: from here the face blends to blur (mesh and reference less trustworthy)
RESIDUAL_LIMIT = (0.05, 0.10)  # eye distances of skull misfit over which the face blends to blur
MOUTH_GAP_FULL = 0.08  # eye distances of lip parting at which the reference mouth texture is fully blended in
REFERENCE_EASE = 0.2  # per frame: how fast a changing auto reference is followed (no pops)
BAND_EXCESS_FULL = 0.3  # brow/eye score above the reference's at which the reference's brow band fully replaces
BAND_EASE = 0.35  # per frame: how fast the band's blend follows (blendshape noise must not flicker the texture)
NOTICE_FROM = 0.25  # blur share from which the user is told why the face is blurred (a trace of it goes unsaid)


FORGET_AFTER = 300  # frames: per-face state of a face not seen for this long is dropped (ids are not reused)


class _FaceState:
    def __init__(self) -> None:
        self.last_seen = 0
        self.auto = AutoReference()
        self.smoothed: np.ndarray | None = None
        self.shape_cache: tuple[object, np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self.band_alpha = 0.0
        # (the reference, the borrowed mouth, the borrowed band) -> the combined reference. The parts are held, not
        # their ids: a freed reference's id can come back on the next calibration's.
        self._borrowed: tuple[tuple[object, ...], NeutralReference] | None = None

    def with_learned_textures(self, reference: NeutralReference, learned: NeutralReference) -> NeutralReference:
        """``reference`` with the pictures it lacks taken from ``learned`` (the automatic estimate): a calibration
        with the lips apart holds no closed mouth, an older saved file no brow band. Its shape still leads; each
        picture carries its own landmark positions, so it fits any shape. Built again only when a part changes."""
        mouth = learned.mouth_image if reference.mouth_image is None else None
        band = learned.upper_image if reference.upper_image is None else None
        if mouth is None and band is None:
            return reference
        parts = (reference, mouth, band)
        if self._borrowed is None or any(a is not b for a, b in zip(self._borrowed[0], parts)):
            fields = {"mouth_image": mouth, "mouth_points": learned.mouth_points} if mouth is not None else {}
            if band is not None:
                fields |= {k: getattr(learned, k) for k in ("upper_image", "upper_points", "upper_scores")}
            self._borrowed = (parts, dataclasses.replace(reference, **fields))
        return self._borrowed[1]


@register_filter
class NeutraliseFilter(Filter):
    """Pulls brows, eyelids and mouth towards the person's neutral reference with one piecewise-affine warp.

    ``reference``: ``"auto"`` (running estimate per face), a :class:`NeutralReference`, or a path to a saved one
    (used for face 0; other faces use auto). ``regions``/``region_strength``: which parts move and how much.
    ``keep_speech``: the jaw opening stays; ``keep_blinks``: blinks stay."""

    name = "neutralise"
    description = "Expression neutraliser: your own neutral face in your current pose"

    def __init__(
        self,
        strength: float = 1.0,
        regions: Iterable[str] = REGIONS,
        region_strength: Mapping[str, float] | None = None,
        keep_speech: bool = False,
        keep_blinks: bool = True,
        reference: str | Path | NeutralReference = "auto",
        texture: bool = True,
    ) -> None:
        super().__init__(strength)
        regions = tuple(regions)
        unknown = set(regions) - set(REGIONS) | set(region_strength or {}) - set(REGIONS)
        if unknown:
            raise ValueError(f"unknown region(s) {', '.join(sorted(unknown))}; choose from {', '.join(REGIONS)}")
        self.gains = {r: (float((region_strength or {}).get(r, 1.0)) if r in regions else 0.0) for r in REGIONS}
        if any(not 0.0 <= g <= 1.0 for g in self.gains.values()):
            raise ValueError("region strengths must be between 0 and 1")
        self.keep_speech = bool(keep_speech)
        self.keep_blinks = bool(keep_blinks)
        self.texture = bool(texture)
        self._states: dict[int, _FaceState] = {}
        self._frame_count = 0
        self._explicit: dict[int, NeutralReference] = {}
        self._source = "auto"
        self._calibrations: dict[int, Calibration] = {}
        self._calibration_seconds: float | None = None
        self._calibration_started = 0.0
        self.calibration_message = ""
        if isinstance(reference, NeutralReference):
            self._explicit[0] = reference
            self._source = "file"
        elif str(reference) != "auto":
            self._explicit[0] = NeutralReference.load(reference)
            self._source = "file"

    # --- the GUI's calibration API -------------------------------------------------------------------------
    def start_calibration(self, seconds: float = 3.0) -> None:
        if seconds <= 0:
            raise ValueError("calibration needs a positive duration")
        self._calibration_seconds = float(seconds)
        self._calibration_started = time.monotonic()
        self._calibrations = {}
        self.calibration_message = ""

    @property
    def calibration_progress(self) -> float | None:
        if self._calibration_seconds is None:
            return None
        return min(1.0, (time.monotonic() - self._calibration_started) / self._calibration_seconds)

    def clear_reference(self) -> None:
        self._explicit.clear()
        self._source = "auto"

    @property
    def reference_source(self) -> str:
        return self._source

    def reference(self, face_id: int = 0) -> NeutralReference | None:
        """The reference in use for a face (explicit, else the auto estimate; None before the face was seen)."""
        if face_id in self._explicit:
            return self._explicit[face_id]
        state = self._states.get(face_id)
        return state.auto.reference if state is not None else None

    def save_reference(self, path: str | Path, face_id: int = 0) -> None:
        """Save the reference in use for a face (only when the user asks; atomic; landmarks and two small crops)."""
        ref = self.reference(face_id)
        if ref is None:
            raise ValueError("no reference yet: keep your face in view for a moment, then save")
        ref.save(path)

    def reference_image(self, face_id: int = 0) -> np.ndarray | None:
        """The small neutral mouth crop the reference holds (BGR), for showing the user what was captured."""
        ref = self.reference(face_id)
        return None if ref is None or ref.mouth_image is None else ref.mouth_image.copy()

    def carry_over(self, previous: Filter) -> None:
        """Options changed (regions, keep speech, ...): keep the person's neutral face. A reference given to
        this filter explicitly, or a calibration already running on it, wins over the old filter's; but a face
        calibrated on the old filter wins over a reference in the options (the app passes the face saved for
        next time along with every option change, and a calibration made since is newer)."""
        if not isinstance(previous, NeutraliseFilter) or self._calibration_seconds is not None:
            return
        if self._explicit and previous.reference_source != "calibrated":
            return
        self._explicit = dict(previous._explicit)
        self._source = previous._source
        self._states = previous._states  # the auto estimates too: no restart from scratch
        if previous._calibration_seconds is not None:  # a calibration under way continues here
            self._calibrations = previous._calibrations
            self._calibration_seconds = previous._calibration_seconds
            self._calibration_started = previous._calibration_started

    def reset(self) -> None:
        self._states.clear()
        self._calibrations.clear()
        self._calibration_seconds = None

    # --- the filter ----------------------------------------------------------------------------------------
    def apply(self, frame: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        self._frame_count += 1
        self.notice = ""
        self._step_calibration(frame, faces)
        for face in faces:
            state = self._states.setdefault(face.face_id, _FaceState())
            state.last_seen = self._frame_count
            auto_ref = state.auto.update(frame, face)  # always learns, so clearing a reference falls back softly
            if self.strength <= 0.0:
                continue
            reference = self._explicit.get(face.face_id, auto_ref)
            self._neutralise(frame, face, state, state.with_learned_textures(reference, auto_ref))
        for face_id in [fid for fid, s in self._states.items() if self._frame_count - s.last_seen > FORGET_AFTER]:
            del self._states[face_id]
        return frame

    def _neutralise(self, frame: np.ndarray, face: Face, state: _FaceState, reference: NeutralReference) -> None:
        target_shape = reference.landmarks
        if state.smoothed is None or state.smoothed.shape != target_shape.shape:
            state.smoothed = target_shape.copy()
        else:
            state.smoothed += REFERENCE_EASE * (target_shape - state.smoothed)
        # Weights depend on the face's proportions, not on its expression: computed once per reference source.
        # The explicit reference itself, not its id (held here, it cannot be freed and its id reused by the next).
        key = (self._explicit.get(face.face_id), tuple(self.gains.values()))
        if state.shape_cache is None or state.shape_cache[0] != key:
            weights = landmark_weights(target_shape, self.gains, FALLOFF)
            state.shape_cache = (key, weights, jaw_participation(target_shape), jaw_motion(target_shape))
        _, weights, jaw_share, jaw_moves = state.shape_cache
        band = self.texture and reference.upper_image is not None
        # With the reference's eye to paint over an opened lid, a wink counts as expression, not as a blink.
        blinks = blink_closure(face.blendshapes, winks_are_expression=band) if self.keep_blinks else None
        targets = compute_targets(
            face,
            state.smoothed,
            weights,
            jaw_share,
            strength=self.strength,
            keep_speech=self.keep_speech,
            blinks=blinks,
            jaw_motion=jaw_moves,
        )
        step = _grid_step(face)
        warp_region(frame, targets.current, targets.target, TRIANGLES, step=step)
        if self.texture and not self.keep_speech:
            # Teeth show when the lips part; the reference's closed mouth covers them, in proportion, but only
            # where the warped mouth is itself (nearly) closed: stretched over an open target a closed mouth
            # becomes a smear.
            parted = float(smoothstep(0.0, MOUTH_GAP_FULL, targets.mouth_opening))
            target_closed = 1.0 - float(smoothstep(0.04, 0.10, lip_gap_ratio(targets.target)))
            alpha = self.gains["mouth"] * self.strength**2 * parted * target_closed
            if reference.mouth_image is not None:
                along = along_growth(targets.current, targets.target)
                blend_mouth(frame, targets.target, reference.mouth_image, reference.mouth_points, alpha, step, along)
            else:
                # No closed mouth seen yet (the auto reference keeps only a frame with the lips together): a
                # grimace's teeth, squeezed by the warp, would still show it. The lips' colour covers them until
                # one is seen (a blur there read as more expression: d3 0.499 -> 0.511; this, 0.501).
                close_mouth_gap(frame, targets.target, alpha)
                if alpha >= NOTICE_FROM:
                    self.notice = "learning your neutral mouth: close your lips for a moment"
        if band:
            # Raised or lowered brows and widened eyes leave texture the warp cannot move (forehead wrinkles, a
            # frown's furrow, visible lid skin): the reference's own band replaces it in proportion to how far the
            # tracker reads the brows and eyes from the reference frame's. Speech does not use the brows, so this
            # runs with keep_speech too.
            excess = upper_excess(face.blendshapes, reference.upper_scores)
            wanted = self.gains["brows"] * self.strength * float(smoothstep(0.0, BAND_EXCESS_FULL, excess))
            state.band_alpha += BAND_EASE * (wanted - state.band_alpha)
            fills = eye_fills(face.blendshapes, face.landmarks, reference.upper_scores, reference.upper_points)
            closures = blinks if blinks is not None else (0.0, 0.0)
            holes = tuple(eye_hole(c, self.gains["eyes"] * float(f)) for c, f in zip(closures, fills))
            blend_upper(
                frame,
                targets.target,
                reference.upper_image,
                reference.upper_points,
                holes,
                state.band_alpha,
                step,
                looking=glance_along(face.landmarks),
            )
        turned = float(smoothstep(*TURN_LIMIT, targets.turn_degrees))
        misfit = float(smoothstep(*RESIDUAL_LIMIT, targets.fit_residual))
        distrust = max(turned, misfit)
        blur_face(frame, face, distrust * self.strength)
        if distrust * self.strength >= NOTICE_FROM:
            self.notice = (
                "face turned too far to neutralise: blurring it"
                if turned >= misfit
                else "the neutral face does not fit this view: blurring the face"
            )

    def _step_calibration(self, frame: np.ndarray, faces: Sequence[Face]) -> None:
        if self._calibration_seconds is None:
            return
        for face in faces:
            calibration = self._calibrations.setdefault(
                face.face_id, Calibration(self._calibration_seconds, self._calibration_started)
            )
            calibration.add(frame, face)
        if (self.calibration_progress or 0.0) < 1.0:
            return
        results = {fid: c.result() for fid, c in self._calibrations.items()}
        done = {fid: ref for fid, ref in results.items() if ref is not None}
        if done:
            self._explicit.update(done)
            self._source = "calibrated"
            self.calibration_message = f"calibrated {len(done)} face(s)"
        else:
            self.calibration_message = "calibration failed: keep a relaxed face in view and try again"
        self._calibrations = {}
        self._calibration_seconds = None


def _grid_step(face: Face) -> int:
    """Coarse-map spacing: about 1/40 of the face width (a lip is ~1/10 of it), so the cost hardly depends on
    resolution."""
    width = float(np.ptp(face.points[:, 0]))
    return int(np.clip(round(width / 40.0), 2, 12))

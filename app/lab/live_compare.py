"""Two filters (or two strengths of one) on the live picture, side by side, with live leakage figures.

The desktop app's compare view runs on this; it never touches what the call receives. For each frame the engine
produced (its RAW ``source_image`` and the faces the engine tracked in it), both filters are applied to copies of
the raw frame, exactly as the engine would apply them. On a throttled schedule the raw frame and both outputs are
re-measured by a separate IMAGE-mode Face Landmarker (never the engine's tracker, as in ``deadpan bench``), and
each side keeps a running window of (input, output) blendshapes. The lab's own functions
(:mod:`app.lab.metrics`) turn a window into figures, against the person's most neutral input seen so far:

- *leakage*: affect residual of the outputs / of the inputs, over the more expressive half of the window;
- *family leakage*: the same per family (smile, brows, eyes, mouth opening, frown);
- *face kept*: share of measured frames whose output still shows a face ("leakage 0, face kept 0" = erased);
- *ms/frame*: median time of the filter's ``apply`` over the last frames.

Work happens on the comparison's own thread, which keeps only the newest frame: a frame that arrives while one is
being processed replaces any frame still waiting (never a queue, so the figures and pictures are never stale).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.events import EventEmitter
from app.lab.metrics import face_found, family_leakage, leakage_ratio, neutral_blendshapes
from app.tracking import IMAGE, FaceTracker
from filters import BLENDSHAPE_NAMES, Filter, create_filter, filter_class
from filters.obscure import obscure_frame

SIDES = ("left", "right")
# Below this many measured frames a window says nothing yet (its "more expressive half" would be one frame).
MIN_SAMPLES = 4
COST_WINDOW = 30  # frames whose apply time the ms/frame figure is the median of


@dataclass(frozen=True, eq=False)
class SideSettings:
    """One side of the comparison: a registered filter, its strength (0..1) and its options (which may hold
    objects such as a calibrated ``NeutralReference``: compared by identity when ``==`` cannot say)."""

    filter_name: str
    strength: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        filter_class(self.filter_name)  # ValueError naming the choices
        strength = float(self.strength)
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {self.strength}")
        object.__setattr__(self, "strength", strength)
        object.__setattr__(self, "options", dict(self.options))

    @classmethod
    def of(cls, value: SideSettings | tuple) -> SideSettings:
        """A ``SideSettings`` as is, or from ``(filter_name, strength[, options])``."""
        return value if isinstance(value, SideSettings) else cls(*value)

    def same_filter(self, other: SideSettings) -> bool:
        """Same filter and options: only the strength differs (the filter instance can be kept)."""
        return self.filter_name == other.filter_name and _same_options(self.options, other.options)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SideSettings):
            return NotImplemented
        return self.strength == other.strength and self.same_filter(other)

    __hash__ = None  # options are a dict


@dataclass(frozen=True)
class SideFigures:
    """The live figures of one side. ``samples``: measured frames in its window; the ratios are NaN until there
    are :data:`MIN_SAMPLES` and the window shows some expression to compare (``leakage``), or a family is
    expressed (``family_leakage``)."""

    settings: SideSettings
    leakage: float = math.nan
    family_leakage: dict[str, float] = field(default_factory=dict)
    face_kept: float = math.nan
    ms_per_frame: float = math.nan
    samples: int = 0
    error: str = ""  # the filter failed: why (its picture is then obscured)

    @property
    def ready(self) -> bool:
        return self.samples >= MIN_SAMPLES


@dataclass(frozen=True)
class ComparisonFrame:
    """One processed frame: both outputs and both sides' figures. ``frame_id`` counts submitted frames from 1;
    ``frames_dropped`` is how many submitted frames were replaced by newer ones before being processed."""

    frame_id: int
    captured_at: float
    source_image: np.ndarray
    left_output: np.ndarray
    right_output: np.ndarray
    left: SideFigures
    right: SideFigures
    measured: bool  # this frame was re-measured (it added a row to the windows)
    face_found: bool  # the engine tracked a face in it (else both outputs are the obscured frame)
    frames_dropped: int = 0


@dataclass
class ComparisonEvents:
    result: EventEmitter = field(default_factory=lambda: EventEmitter("compare_result"))


class _Side:
    """A side's filter instance and its running windows (touched only by the processing thread)."""

    def __init__(self, settings: SideSettings, window: int) -> None:
        self.settings = settings
        self.filter: Filter | None = None
        self.rows: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=window)  # (input, output) blendshapes
        self.costs: deque[float] = deque(maxlen=COST_WINDOW)
        self.error = ""

    def configure(self, settings: SideSettings) -> None:
        if self.filter is not None and settings.same_filter(self.settings):
            self.filter.strength = settings.strength  # a strength change keeps the filter's own state
        else:
            self.filter = None  # built on first use, on the processing thread
        self.settings = settings
        self.forget()

    def forget(self) -> None:
        self.rows.clear()
        self.costs.clear()
        self.error = ""

    def apply(self, raw: np.ndarray, faces: tuple) -> np.ndarray:
        try:
            if self.filter is None:
                s = self.settings
                self.filter = create_filter(s.filter_name, s.strength, **s.options)
            start = time.perf_counter()
            output = self.filter.apply(raw.copy(), faces)
            self.costs.append((time.perf_counter() - start) * 1000.0)
            if output.shape != raw.shape or output.dtype != np.uint8:
                raise ValueError(f"it returned {output.shape} {output.dtype} for a {raw.shape} frame")
            self.error = ""
            return output
        except Exception as exc:  # a failing filter shows an obscured picture and says why, never a traceback
            self.error = f"{self.settings.filter_name} failed: {_one_line(exc)}"
            return obscure_frame(raw)

    def figures(self, neutral: np.ndarray | None) -> SideFigures:
        cost = float(np.median(self.costs)) if self.costs else math.nan
        base = SideFigures(self.settings, ms_per_frame=cost, samples=len(self.rows), error=self.error)
        if not self.rows:
            return base
        inputs = np.stack([row for row, _ in self.rows])
        outputs = np.stack([row for _, row in self.rows])
        face_kept = float(face_found(outputs).mean())  # every stored input row has a face
        if len(self.rows) < MIN_SAMPLES or neutral is None:
            return replace(base, face_kept=face_kept)
        return replace(
            base,
            leakage=leakage_ratio(inputs, outputs, neutral),
            family_leakage=family_leakage(inputs, outputs, neutral),
            face_kept=face_kept,
        )


class LiveComparison:
    """Compare two filters live. ``left``/``right``: :class:`SideSettings` or ``(filter_name, strength, options)``.

    Feed it the engine's ``FrameResult``s with :meth:`submit` (any thread; it only keeps the newest) after
    :meth:`start`; each processed frame is announced as a :class:`ComparisonFrame` on ``events.result`` (from the
    comparison's thread). :meth:`process` is the same step, synchronous (tests, scripts).

    ``measure_interval_s``: at most one re-measurement (three landmarker runs) per this many seconds, so the
    comparison leaves the CPU to the engine that feeds the call. ``window``: measured frames per side that the
    figures cover. ``max_fps``: processed frames per second at most (the previews need no more).
    """

    def __init__(
        self,
        left: SideSettings | tuple,
        right: SideSettings | tuple,
        *,
        model_path: str | Path,
        measure_interval_s: float = 0.3,
        window: int = 30,
        max_fps: float = 15.0,
    ) -> None:
        if window < MIN_SAMPLES:
            raise ValueError(f"window must be at least {MIN_SAMPLES} measured frames")
        self.model_path = Path(model_path)
        self.measure_interval_s = float(measure_interval_s)
        self.max_fps = float(max_fps)
        self.events = ComparisonEvents()
        self._sides = {"left": _Side(SideSettings.of(left), window), "right": _Side(SideSettings.of(right), window)}
        self._pending: dict[str, SideSettings] = {}
        self._reset_pending = False
        self._neutral: np.ndarray | None = None
        self._tracker: FaceTracker | None = None
        self._last_measured = -math.inf
        self._step_lock = threading.Lock()  # one processing step at a time (worker or a direct call)
        self._cond = threading.Condition()
        self._newest: tuple[int, Any] | None = None
        self._submitted = 0
        self.frames_dropped = 0
        self.frames_processed = 0
        self.last_error = ""
        self._running = False
        self._run = 0  # bumped by start/stop: a worker of an earlier run, still finishing its step, then leaves
        self._thread: threading.Thread | None = None

    # ----- settings (any thread; applied before the next frame) ------------------------------------------------
    @property
    def settings(self) -> dict[str, SideSettings]:
        with self._cond:
            return {name: self._pending.get(name, side.settings) for name, side in self._sides.items()}

    def set_side(self, side: str, settings: SideSettings | tuple) -> None:
        """Change one side; its window starts afresh (figures never mix two settings)."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {', '.join(SIDES)}, got {side!r}")
        settings = SideSettings.of(settings)
        with self._cond:
            self._pending[side] = settings

    def reset(self) -> None:
        """Forget every measurement and the neutral face (another source, another person)."""
        with self._cond:
            self._reset_pending = True

    # ----- the worker ------------------------------------------------------------------------------------------
    def start(self) -> LiveComparison:
        with self._cond:
            if self._running:
                return self
            self._running = True
            self._run += 1
            run = self._run
        self._thread = threading.Thread(target=self._work, args=(run,), name="deadpan-compare", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, wait: bool = True) -> None:
        """Stop the worker. ``wait=False`` (the GUI thread): return at once; the worker finishes its step and
        closes its landmarker itself."""
        with self._cond:
            self._running = False
            self._run += 1
            self._newest = None
            self._cond.notify_all()
        thread = self._thread
        if thread is None:
            self.close()
        elif wait:
            thread.join(timeout=10.0)

    @property
    def running(self) -> bool:
        return self._running

    def __enter__(self) -> LiveComparison:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(self, result) -> None:
        """Offer the engine's newest ``FrameResult`` (called on the engine's thread: it only stores it)."""
        with self._cond:
            if not self._running:
                return
            self._submitted += 1
            if self._newest is not None:
                self.frames_dropped += 1
            self._newest = (self._submitted, result)
            self._cond.notify_all()

    def _work(self, run: int) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._newest is not None or self._run != run)
                    if self._run != run:
                        return
                    (frame_id, result), self._newest = self._newest, None
                started = time.monotonic()
                try:
                    self.events.result.emit(self.process(result, frame_id=frame_id))
                except Exception as exc:  # a broken frame is skipped; the next one may be fine
                    self.last_error = _one_line(exc)
                # Not faster than max_fps: newer frames meanwhile replace each other, the newest is taken next.
                rest = 1.0 / self.max_fps - (time.monotonic() - started) if self.max_fps > 0 else 0.0
                if rest > 0:
                    with self._cond:
                        self._cond.wait_for(lambda: self._run != run, timeout=rest)
        finally:
            with self._cond:
                last = self._run == run or not self._running  # a newer run keeps (or lazily rebuilds) the landmarker
            if last:
                self.close()

    def close(self) -> None:
        """Release the measuring landmarker (the worker does this itself when it stops)."""
        with self._step_lock:
            if self._tracker is not None:
                self._tracker.close()
                self._tracker = None

    # ----- one step ----------------------------------------------------------------------------------------------
    def process(self, result, *, measure: bool | None = None, frame_id: int | None = None) -> ComparisonFrame:
        """Apply both sides to the raw frame of ``result`` (a ``FrameResult``) and, when due (or ``measure``),
        re-measure. A frame without tracked faces (face lost, panic) gives the obscured frame on both sides,
        as the engine would send, and is not measured."""
        with self._step_lock:
            self._apply_pending()
            raw = result.source_image
            faces = tuple(result.faces)
            if faces:
                outputs = {name: side.apply(raw, faces) for name, side in self._sides.items()}
            else:
                hidden = obscure_frame(raw)
                outputs = {name: hidden for name in self._sides}
            now = time.monotonic()
            if measure is None:
                measure = now - self._last_measured >= self.measure_interval_s
            measured = bool(faces) and measure and self._measure(raw, outputs)
            if measured:
                self._last_measured = now
            self.frames_processed += 1
            left, right = (self._sides[name].figures(self._neutral) for name in SIDES)
            return ComparisonFrame(
                frame_id=frame_id if frame_id is not None else self.frames_processed,
                captured_at=float(getattr(result, "captured_at", 0.0)),
                source_image=raw,
                left_output=outputs["left"],
                right_output=outputs["right"],
                left=left,
                right=right,
                measured=measured,
                face_found=bool(faces),
                frames_dropped=self.frames_dropped,
            )

    def _apply_pending(self) -> None:
        with self._cond:
            pending, self._pending = self._pending, {}
            reset, self._reset_pending = self._reset_pending, False
        for name, settings in pending.items():
            self._sides[name].configure(settings)
        if reset:
            self._neutral = None
            for side in self._sides.values():
                side.forget()
                if side.filter is not None:
                    side.filter.reset()

    def _measure(self, raw: np.ndarray, outputs: dict[str, np.ndarray]) -> bool:
        """Re-measure the raw frame and both outputs; False (nothing stored) if the raw frame shows no face."""
        if self._tracker is None:
            self._tracker = FaceTracker(self.model_path, mode=IMAGE, smoothing=None)
        input_row = self._blendshapes(raw)
        if input_row is None:
            return False
        # The person's running most-neutral input: the lab's own choice, over what is known so far and this frame.
        known = [input_row] if self._neutral is None else [self._neutral, input_row]
        self._neutral = neutral_blendshapes(np.stack(known))
        measured: dict[int, np.ndarray] = {}  # two sides showing the very same picture are measured once
        for side_name, side in self._sides.items():
            output = outputs[side_name]
            row = measured.get(id(output))
            if row is None:
                row = self._blendshapes(output)
                row = np.full(len(BLENDSHAPE_NAMES), np.nan, np.float32) if row is None else row
                measured[id(output)] = row
            side.rows.append((input_row, row))
        return True

    def _blendshapes(self, frame: np.ndarray) -> np.ndarray | None:
        found = self._tracker.track(frame)
        return found[0].blendshapes.astype(np.float32) if found else None


def _same_options(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if value is other:
            continue
        try:
            if not bool(value == other):
                return False
        except ValueError:  # arrays (or objects holding them) have no single truth value: not the same object
            return False
    return True


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

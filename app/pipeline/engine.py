"""The live engine: source -> face tracker -> filter -> sinks, fail-closed, timed, observable.

Threads: the source captures on its own thread and keeps only its newest frame (stale frames are dropped,
never queued). Here a tracking thread takes that frame and tracks it, and an output thread filters it and
writes the sinks; the two hand over through a one-frame mailbox that also keeps only the newest, so on two
cores tracking frame n+1 overlaps filtering frame n and throughput is set by the slower stage, not the sum.
Settings changes are prepared on the caller's thread and swapped in between two frames (filter settings by
the output thread, tracker changes by the tracking thread), so every frame sees one consistent set.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.pipeline.failsafe import FaceGate, FailSafe, is_valid_output, obscure_frame
from app.pipeline.frames import STATES, FrameResult, Mailbox, PipelineEvents, Status, Tracked, describe
from app.pipeline.mesh_check import MeshCheck
from app.pipeline.outputs import SinkSlot
from app.pipeline.settings import PipelineSettings
from app.pipeline.stats import StatsCollector, StatsSnapshot
from app.sinks.base import Sink
from app.sources.base import CapturedFrame, Source
from app.tracking import FaceTracker
from filters import Filter, create_filter

log = logging.getLogger(__name__)

__all__ = ["STATES", "FrameResult", "Pipeline", "PipelineEvents", "Status"]
FALLBACK_WORDS = {"obscure": "sending obscured frame", "hold": "holding the last good frame", "card": "sending card"}


def _is_bgr_frame(image: object) -> bool:
    return (
        isinstance(image, np.ndarray)
        and image.ndim == 3
        and image.shape[2] == 3
        and image.dtype == np.uint8
        and image.size > 0
    )


def _default_model_path() -> Path:
    try:
        from app.model_store import resolve_model
    except ImportError:  # pragma: no cover - before team IO's model store exists
        env = os.environ.get("DEADPAN_MODEL")
        if not env:
            raise ValueError("no face model: pass model_path or set DEADPAN_MODEL") from None
        return Path(env)
    return resolve_model(None)


class Pipeline:
    """Source -> tracker -> filter -> sinks; see the module docstring. ``fps``: the output rate used to open
    sinks and to pace obscured repeats while the source stalls (default: the source's own fps, else 30).
    ``stall_after_s``: how long the source may be silent before those repeats start (shorter hiccups are not
    worth flashing an obscured frame into the call)."""

    def __init__(
        self,
        source: Source | None,
        sinks: Sequence[Sink] = (),
        settings: PipelineSettings | None = None,
        *,
        model_path: str | Path | None = None,
        tracker: FaceTracker | None = None,
        fps: float | None = None,
        stall_after_s: float = 0.25,
    ) -> None:
        self.events = PipelineEvents()
        self._settings = settings or PipelineSettings()
        self._requested = self._settings  # the newest requested settings (may not be applied yet)
        self._model_path = model_path
        self._filter = self._build_filter(self._settings)
        self._owns_tracker = tracker is None
        self._tracker = tracker if tracker is not None else self._build_tracker(self._settings)
        self._mesh_check = MeshCheck()
        self._source = source
        self._source_started = False
        self._slots = [SinkSlot(s) for s in sinks]
        self._fps_requested = fps
        self._stall_after_s = stall_after_s

        self._update_lock = threading.Lock()  # serialises update() callers
        self._lock = threading.Lock()  # guards the hand-over fields below and the sink list
        self._pending: dict[str, Any] | None = None  # settings and filter, for the output stage
        self._pending_tracker: FaceTracker | None = None  # for the tracking stage
        self._pending_source: Source | None = None
        self._panic_now = threading.Event()  # seen right before the sinks, so panic wins even mid-frame
        if self._settings.panic:
            self._panic_now.set()

        self._gate = FaceGate(self._settings.reacquire_frames)
        self._failsafe = FailSafe(self._settings.on_face_lost)
        self._stats = StatsCollector()
        self._status = Status("starting", "starting: sending obscured frames until a face is found")
        self._status_lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._stop_event = threading.Event()
        self._mailbox = Mailbox()
        self._generation = 0  # of the tracking stage
        self._output_generation = 0  # the last one the output stage saw
        self._last_output: np.ndarray | None = None
        # (output, its obscured copy): keyed by the array itself, not id(), which a new array can reuse
        self._stall_cache: tuple[np.ndarray, np.ndarray] | None = None
        self._last_frame_at = 0.0
        self._last_sent_at = 0.0
        self._last_stats_at = 0.0

    # ----------------------------------------------------------------- public API
    @property
    def settings(self) -> PipelineSettings:
        return self._requested

    @property
    def filter(self) -> Filter:
        """The filter in use, or the one about to be (so calibration can be started right after a switch)."""
        with self._lock:
            if self._pending and self._pending.get("filter") is not None:
                return self._pending["filter"]
        return self._filter

    @property
    def status(self) -> Status:
        return self._status

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def fps(self) -> float:
        if self._fps_requested:
            return float(self._fps_requested)
        if self._source is not None:
            try:
                if self._source.info.fps and self._source.info.fps > 0:
                    return float(self._source.info.fps)
            except Exception:
                pass
        return 30.0

    @property
    def sink_errors(self) -> list[str]:
        """Why each failing output failed, in the sink's own words (empty when all outputs work)."""
        with self._lock:
            return [slot.reason for slot in self._slots if slot.reason]

    def stats(self) -> StatsSnapshot:
        return self._stats.snapshot(time.monotonic(), self._source_dropped())

    def start(self) -> Pipeline:
        if self.running:
            return self
        if self._source is None:
            raise ValueError("the pipeline has no source")
        if self._tracker is None:
            self._tracker = self._build_tracker(self._settings)
        if not self._source_started:
            self._source.start()
            self._source_started = True
        self._stop_event.clear()
        self._mailbox = Mailbox()
        self._threads = [
            threading.Thread(target=self._tracking_loop, name="deadpan-track", daemon=True),
            threading.Thread(target=self._output_loop, name="deadpan-output", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream ends (the input ended, or ``stop()``); True if it has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.running

    def stop(self) -> None:
        self._stop_event.set()
        self._mailbox.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5.0)
        self._threads = []
        if self._source is not None and self._source_started:
            self._stop_quietly(self._source)
            self._source_started = False
        with self._lock:
            for slot in self._slots:
                slot.stop()
        if self._owns_tracker and self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        with self._lock:
            unused, self._pending_tracker = self._pending_tracker, None
        if unused is not None:
            unused.close()
        if self._status.state != "stopped":  # "input ended" says more than "stopped"
            self._set_status(Status("stopped", "stopped"))

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def update(self, **changes: Any) -> None:
        """Change settings while running (thread-safe). Validation errors raise ValueError. A new filter or
        tracker is constructed here, off to the side; if that fails the old one stays, the rest of the change
        applies and the status says what went wrong. Everything is swapped in between two frames."""
        with self._update_lock:
            current = self._requested
            wanted = current.replace(**changes)
            new_filter = new_tracker = None
            if wanted.filter_changed(current):
                try:
                    new_filter = self._build_filter(wanted)
                except Exception as exc:
                    self._set_status(
                        Status("error", f"could not switch to filter {wanted.filter_name} ({describe(exc)})")
                    )
                    wanted = wanted.replace(filter_name=current.filter_name, filter_options=current.filter_options)
            if wanted.tracker_changed(current):
                try:
                    new_tracker = self._build_tracker(wanted)
                except Exception as exc:
                    self._set_status(Status("error", f"could not change face tracking ({describe(exc)})"))
                    wanted = wanted.replace(max_faces=current.max_faces, smoothing=current.smoothing)
            if wanted.panic:
                self._panic_now.set()
            else:
                self._panic_now.clear()
            with self._lock:
                pending = self._pending or {}
                if new_filter is not None:
                    pending["filter"] = new_filter
                if new_tracker is not None:
                    if self._pending_tracker is not None:  # superseded before it was ever used
                        self._pending_tracker.close()
                    self._pending_tracker = new_tracker
                pending["settings"] = wanted
                self._pending = pending
                self._requested = wanted

    def set_source(self, source: Source) -> None:
        """Swap the source. The new one is started here (errors raise, the old one keeps running); output
        stays obscured until a face is found in the new picture."""
        if not self.running:
            if self._source is not None and self._source_started:
                self._stop_quietly(self._source)
            self._source, self._source_started = source, False
            self._new_stream()
            return
        source.start()
        with self._lock:
            if self._pending_source is not None:
                self._stop_quietly(self._pending_source)
            self._pending_source = source

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._slots.append(SinkSlot(sink))

    def remove_sink(self, sink: Sink) -> None:
        with self._lock:
            for slot in [s for s in self._slots if s.sink is sink]:
                self._slots.remove(slot)
                slot.stop()

    def process_frame(
        self, captured: CapturedFrame, *, timestamp_ms: int | None = None, read_wait_ms: float = 0.0
    ) -> FrameResult:
        """One synchronous step: track, filter (or fail closed), hand to the sinks, announce. Do not call it
        while the pipeline's own threads run. ``timestamp_ms`` for the tracker defaults to the capture time."""
        return self._output_stage(self._tracking_stage(captured, timestamp_ms, read_wait_ms))

    # ----------------------------------------------------------------- the two stages of one frame
    def _tracking_stage(self, captured: CapturedFrame, timestamp_ms: int | None, read_wait_ms: float) -> Tracked:
        started = time.perf_counter()
        swapped = self._apply_pending_tracker()
        timings = {"read_wait": read_wait_ms}
        tracked = Tracked(captured, None, "", timings, started, self._generation, swapped)
        if self._panic_now.is_set():
            return tracked  # nothing of this frame will be shown: spare the CPU
        try:
            ts = int(captured.captured_at * 1000) if timestamp_ms is None else timestamp_ms
            faces = tuple(self._tracker.track(captured.image, ts))
            if swapped:
                self._mesh_check.reset()
            # A mesh left where the face was before a jump would filter the wrong place: no face this frame.
            tracked.faces = faces if self._mesh_check.trusted(captured.image, faces) else ()
        except Exception as exc:
            tracked.error = describe(exc)
            log.warning("face tracking failed: %s", tracked.error)
        timings["track"] = (time.perf_counter() - started) * 1000.0
        return tracked

    def _output_stage(self, tracked: Tracked) -> FrameResult:
        self._apply_pending()
        if tracked.generation != self._output_generation:
            self._output_generation = tracked.generation
            self._restart_output_state()
        if tracked.tracker_swapped:
            self._gate.lose()
        settings = self._settings
        captured, timings = tracked.captured, tracked.timings
        raw = captured.image
        faces = tracked.faces or ()
        stand_in = False  # a stand-in is not remembered as "the last output", so it is never obscured twice
        if not _is_bgr_frame(raw):
            # A damaged frame (wrong shape or type, empty, None): nothing in it can be filtered or obscured
            # safely, and a frame of another shape would make the sinks fail. Send the stand-in instead.
            self._gate.lose()
            raw, what = self._stand_in_frame()
            output, status = raw, Status("error", f"the camera sent a damaged frame: {what}")
            stand_in = True
        elif settings.panic or (tracked.faces is None and not tracked.error):
            self._gate.lose()
            output, status = obscure_frame(raw), Status("panic", "panic: every frame obscured")
        else:
            output, status = self._filter_or_fail_closed(tracked, settings)
        if self._panic_now.is_set() and status.state != "panic":  # panic pressed while this frame was in flight
            output, status = obscure_frame(raw), Status("panic", "panic: every frame obscured")
        sent_at = self._deliver(output, timings, remember=not stand_in)
        self._last_frame_at = sent_at
        # From taking the frame to handing it over (waiting for the camera is read_wait, not work).
        timings["total"] = (time.perf_counter() - tracked.started) * 1000.0
        self._stats.record(sent_at, sent_at - captured.captured_at, timings)
        self._set_status(status)
        result = FrameResult(raw, output, faces, status, timings, captured.captured_at, sent_at)
        self.events.frame.emit(result)
        self._maybe_emit_stats(sent_at)
        return result

    def _filter_or_fail_closed(self, tracked: Tracked, settings: PipelineSettings) -> tuple[np.ndarray, Status]:
        raw = tracked.captured.image
        fallback = FALLBACK_WORDS[settings.on_face_lost]
        if tracked.error:
            self._gate.lose()
            return self._failsafe.replacement(raw), Status("error", f"face tracking failed: {fallback}")
        faces = tracked.faces or ()
        if len(faces) > settings.max_faces:
            # More people than the user set up to filter: at least one face has no filter of its own.
            self._gate.lose()
            message = f"{len(faces)} or more faces in view, filtering is set for {settings.max_faces}: {fallback}"
            return self._failsafe.replacement(raw), Status("extra_face", message, len(faces))
        if not self._gate.observe(bool(faces)):
            if not self._gate.started:
                return self._failsafe.replacement(raw), Status("starting", f"looking for a face: {fallback}")
            what = "face found again, confirming" if faces else "face lost"
            return self._failsafe.replacement(raw), Status("face_lost", f"{what}: {fallback}", len(faces))
        t = time.perf_counter()
        try:
            # A copy: filters may draw into their input, and the raw frame must stay intact for the fallback.
            filtered = self._filter.apply(raw.copy(), faces)
            error = "" if is_valid_output(filtered, raw) else "returned a frame of the wrong shape or type"
        except Exception as exc:
            log.warning("filter %s failed: %s", settings.filter_name, describe(exc))
            filtered, error = None, "failed"
        tracked.timings["filter"] = (time.perf_counter() - t) * 1000.0
        if error:  # the face itself is still trusted: the next frame may filter again
            return self._failsafe.replacement(raw), Status(
                "error", f"filter {settings.filter_name} {error}: {fallback}"
            )
        self._failsafe.remember(filtered)
        noun = "face" if len(faces) == 1 else "faces"
        notice = self._filter.notice  # e.g. why the neutraliser blurred a face
        message = f"{len(faces)} {noun} covered" + (f"; {notice}" if notice else "")
        return filtered, Status("face_found", message, len(faces))

    def _deliver(self, output: np.ndarray, timings: dict[str, float], remember: bool = True) -> float:
        sent_at = time.monotonic()
        t = time.perf_counter()
        self._write_sinks(output, sent_at)
        timings["sink"] = (time.perf_counter() - t) * 1000.0
        if remember:
            self._last_output = output
        self._last_sent_at = sent_at
        return sent_at

    def _write_sinks(self, frame: np.ndarray, now: float) -> None:
        fps = self.fps
        with self._lock:
            for slot in self._slots:
                slot.write(frame, fps, now)

    # ----------------------------------------------------------------- threads
    def _tracking_loop(self) -> None:
        interval = 1.0 / self.fps
        try:
            while not self._stop_event.is_set():
                self._swap_source()
                source = self._source
                t = time.monotonic()
                try:
                    captured = source.read(timeout=interval)
                except Exception as exc:
                    captured = None
                    self._set_status(Status("error", f"camera read failed ({describe(exc)}): sending obscured frame"))
                    self._stop_event.wait(interval)
                if captured is None:
                    if source.ended and self._pending_source is None:
                        break
                    continue
                try:
                    tracked = self._tracking_stage(captured, None, (time.monotonic() - t) * 1000.0)
                except Exception:  # a bug, not a policy case: drop the frame rather than risk the raw one
                    log.exception("tracking stage failed")
                    self._stats.skipped += 1
                    continue
                if self._mailbox.put(tracked):
                    self._stats.skipped += 1  # the output stage was still busy: only the newest is kept
        finally:
            self._mailbox.close()

    def _output_loop(self) -> None:
        interval = 1.0 / self.fps
        self._last_frame_at = time.monotonic()
        while not self._stop_event.is_set():
            tracked = self._mailbox.take(timeout=interval)
            if tracked is None:
                if self._mailbox.closed:
                    if not self._stop_event.is_set():
                        self._set_status(Status("stopped", "input ended"))
                    break
                self._keep_stream_alive(time.monotonic(), interval)
                continue
            try:
                self._output_stage(tracked)
            except Exception:  # a bug, not a policy case: send nothing for this frame rather than risk the raw one
                log.exception("output stage failed")
                self._stats.skipped += 1

    def _keep_stream_alive(self, now: float, interval: float) -> None:
        """The source stalled: repeat the last output, obscured, at the target rate so the call never freezes."""
        if now - self._last_frame_at < self._stall_after_s or now - self._last_sent_at < interval:
            return
        waiting = "no frames from the camera" if self._last_output is not None else "waiting for the camera"
        frame, what = self._stand_in_frame()
        message = f"{waiting}: {what}"
        self._write_sinks(frame, now)
        self._last_sent_at = now
        self._stats.resent += 1
        if self._status.state != "error":
            self._set_status(Status("no_source", message))
        self._maybe_emit_stats(now)

    def _stand_in_frame(self) -> tuple[np.ndarray, str]:
        """What to send when there is no usable camera frame: the last output obscured, else a card."""
        if self._last_output is not None:
            if self._stall_cache is None or self._stall_cache[0] is not self._last_output:
                self._stall_cache = (self._last_output, obscure_frame(self._last_output))
            return self._stall_cache[1], "sending the last frame obscured"
        info = self._source.info if self._source is not None else None
        height, width = (info.height, info.width) if info and info.width > 0 else (480, 640)
        return self._failsafe.card(height, width), "sending card"

    def _swap_source(self) -> None:
        with self._lock:
            new, self._pending_source = self._pending_source, None
        if new is None:
            return
        old, self._source = self._source, new
        if old is not None and self._source_started:
            self._stop_quietly(old)
        self._source_started = True
        self._new_stream()

    # ----------------------------------------------------------------- helpers
    def _new_stream(self) -> None:
        """A new source: the tracker forgets its faces now; the output stage starts afresh when the first frame
        of the new generation reaches it (so frames of the old source still in flight finish as they were)."""
        if self._tracker is not None:
            self._tracker.reset()
        self._mesh_check.reset()
        self._generation += 1

    def _restart_output_state(self) -> None:
        self._filter.reset()
        self._gate.reset()
        self._failsafe.forget()
        self._set_status(Status("starting", "new source: sending obscured frames until a face is found"))

    def _apply_pending_tracker(self) -> bool:
        with self._lock:
            new, self._pending_tracker = self._pending_tracker, None
        if new is None:
            return False
        old, self._tracker = self._tracker, new
        if old is not None and self._owns_tracker:
            old.close()
        self._owns_tracker = True
        return True

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if not pending:
            return
        settings: PipelineSettings = pending["settings"]
        if pending.get("filter") is not None:
            # Between two frames, on the worker thread: the old filter is idle, so the new one can safely
            # take over what the user set up on it (a calibrated neutral face survives a change of regions).
            try:
                pending["filter"].carry_over(self._filter)
            except Exception as exc:  # the switch still happens; only what it could carry is lost
                log.warning(
                    "filter %s could not take over its predecessor's state: %s", settings.filter_name, describe(exc)
                )
            self._filter = pending["filter"]
        self._filter.strength = settings.strength
        if settings.panic and not self._settings.panic:
            self._gate.lose()
        self._gate.reacquire_frames = settings.reacquire_frames
        self._failsafe.policy = settings.on_face_lost
        self._settings = settings

    def _build_filter(self, settings: PipelineSettings) -> Filter:
        return create_filter(settings.filter_name, settings.strength, **settings.filter_options)

    def _build_tracker(self, settings: PipelineSettings) -> FaceTracker:
        if self._model_path is None:
            self._model_path = _default_model_path()
        return settings.build_tracker(self._model_path)

    def _set_status(self, status: Status) -> None:
        with self._lock:
            errors = [slot.error for slot in self._slots if slot.error]
        if errors and status.state != "stopped":
            status = Status(status.state, f"{status.message}; {errors[0]}", status.faces)
        with self._status_lock:  # both threads report; listeners see changes in order
            if status != self._status:
                self._status = status
                self.events.status.emit(status)

    def _maybe_emit_stats(self, now: float) -> None:
        if not self._last_stats_at:  # the first frame: no rate yet (it read "0.0 fps"); the first figures in 1 s
            self._last_stats_at = now
        elif now - self._last_stats_at >= 1.0:
            self._last_stats_at = now
            if len(self.events.stats):
                self.events.stats.emit(self._stats.snapshot(now, self._source_dropped()))

    def _source_dropped(self) -> int:
        try:
            return int(self._source.dropped) if self._source is not None else 0
        except Exception:
            return 0

    @staticmethod
    def _stop_quietly(source: Source) -> None:
        try:
            source.stop()
        except Exception as exc:
            log.warning("source did not stop cleanly: %s", describe(exc))

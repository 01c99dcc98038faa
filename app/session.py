"""The model object between the engine and the desktop app (plain Python, no Qt; napari-style change events).

A :class:`Session` owns the running :class:`~app.pipeline.engine.Pipeline`, the chosen source and the virtual
camera, and remembers the user's choices in an :class:`~app.settings_store.AppSettings`. The UI only calls the
``set_*`` / ``start_*`` methods here and listens to ``session.events``; it never touches the pipeline.

Events (each an :class:`~app.events.EventEmitter`; callbacks run on the emitting thread):

- ``frame(FrameResult)``, ``status(Status)``, ``stats(StatsSnapshot)``: from the pipeline's thread.
- ``changed(name, value)``: a setting changed (``name`` is an ``AppSettings`` field or ``"panic"``).
- ``virtual_camera(VirtualCameraState)``: the virtual camera started, stopped or failed.
- ``cameras(list[CameraInfo])``: the list of plugged-in cameras changed.
- ``source(SourceState)``: the source opened, failed, or there is none.
- ``message(str)``: a one-line notice for the user.

Slow steps (loading the model, opening a camera, opening the virtual-camera driver and running the doctor's checks)
take ``wait=False`` to run on the session's own worker thread, in order; the app always uses it so the GUI thread
never waits. Tests and scripts call the same methods with the default ``wait=True``.

Fail closed: every change goes through ``Pipeline.update`` / ``set_source`` which never let a raw frame out; the
virtual camera is only attached to a pipeline that is already running, so it never sees a frame from before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.doctor import Finding
from app.events import EventEmitter
from app.settings_store import MAX_FACES, REGIONS, AppSettings
from app.sinks.base import Sink
from app.sources import names_a_camera
from app.sources.base import SourceError

NEUTRALISE = "neutralise"


@dataclass(frozen=True)
class VirtualCameraState:
    """``state``: "off" | "starting" | "on" | "failed". ``device`` is the name to pick in the call app once on;
    ``findings`` are the doctor's checks (``app.doctor.Finding``) when it failed."""

    state: str
    device: str = ""
    message: str = ""
    findings: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SourceState:
    """``state``: "starting" (before :meth:`Session.start` finished) | "none" (no camera found) | "open" |
    "failed". ``spec`` as given to ``open_source``."""

    state: str
    spec: str | None = None
    name: str = ""
    message: str = ""


@dataclass
class SessionEvents:
    frame: EventEmitter = field(default_factory=EventEmitter)
    status: EventEmitter = field(default_factory=EventEmitter)
    stats: EventEmitter = field(default_factory=EventEmitter)
    changed: EventEmitter = field(default_factory=EventEmitter)
    virtual_camera: EventEmitter = field(default_factory=EventEmitter)
    cameras: EventEmitter = field(default_factory=EventEmitter)
    source: EventEmitter = field(default_factory=EventEmitter)
    message: EventEmitter = field(default_factory=EventEmitter)


def _default_open_source(spec: str, width: int, height: int, fps: int):
    """A video file loops in real time (standing in for a camera); anything else is a camera."""
    if _names_a_file(spec):
        from app.sources.video_file import VideoFileSource

        if not Path(spec).is_file():  # a file remembered from last time or typed: not a camera to look for
            raise SourceError(f"the file is not in {Path(spec).parent} (moved, deleted or mistyped?)")
        return VideoFileSource(spec, realtime=True, loop=True)
    from app.sources.camera import CameraSource

    return CameraSource(int(spec) if spec.isdigit() else spec, width, height, fps)


def _default_list_cameras() -> list:
    from app.sources import list_cameras

    return list_cameras()


def _default_virtual_camera():
    from app.sinks import VirtualCameraSink

    return VirtualCameraSink()


def _names_a_file(spec: str) -> bool:
    """Not a camera number or device: a file's path, whether or not the file is (still) there."""
    return not names_a_camera(spec)


def _is_file_spec(spec: str) -> bool:
    return _names_a_file(spec) and Path(spec).is_file()


class Session:
    """Everything the desktop app shows and changes. Construct, then :meth:`start`; :meth:`close` at exit.

    The factories exist so the app and its tests build the same object: tests pass a virtual-camera factory
    that uses a capturing pyvirtualcam backend and a camera lister that reports no devices.
    """

    def __init__(
        self,
        settings: AppSettings,
        *,
        model_path: str | Path,
        open_source: Callable[[str, int, int, int], Any] = _default_open_source,
        list_cameras: Callable[[], list] = _default_list_cameras,
        virtual_camera: Callable[[], Any] = _default_virtual_camera,
        doctor: Callable[[], list] | None = None,
        on_settings_changed: Callable[[AppSettings], None] | None = None,
        saved_reference: str | Path | None = None,
    ) -> None:
        """``saved_reference``: the file a neutral face saved for next time goes to (default: the user's data
        folder, see :func:`app.neutral_reference.saved_reference_path`)."""
        from app.neutral_reference import load_saved_reference, saved_reference_path
        from filters.neutralise import ReferenceFileError

        self.settings = dataclasses.replace(settings)
        self.settings.filter_name = _available_filter(self.settings.filter_name)
        self.model_path = Path(model_path)
        self.events = SessionEvents()
        self._open_source = open_source
        self._list_cameras = list_cameras
        self._make_virtual_camera = virtual_camera
        self._doctor = doctor
        self._on_settings_changed = on_settings_changed
        self._lock = threading.RLock()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._pipeline = None
        self._source = None
        self._sink = None
        self._cameras: list = []
        self._face_id = 0
        self.panic = False
        self.source_state = SourceState("starting")
        self.virtual_camera_state = VirtualCameraState("off")
        self.saved_reference_path = Path(saved_reference) if saved_reference is not None else saved_reference_path()
        # A damaged saved face is left where it is (the user may want it back) and the automatic one is used.
        self.saved_reference_problem = ""
        try:
            self._saved_reference = load_saved_reference(self.saved_reference_path)
        except ReferenceFileError as exc:
            self._saved_reference = None
            self.saved_reference_problem = f"Your saved neutral face could not be read: {exc.reason}. Calibrate again."

    # ----- lifecycle -------------------------------------------------------------------------------------------
    def start(self, *, wait: bool = True) -> Session:
        """Open the remembered source (or the first camera) and start the pipeline; then the virtual camera if
        it was on last time. Never raises for a missing camera: ``source`` reports state "none".
        ``wait=False`` (the app): done on the session's worker thread; the events report the outcome."""
        if not wait:
            self._in_background(self.start)
            return self
        self.refresh_cameras()
        spec = self.settings.camera
        if spec is None or (not _is_file_spec(spec) and not self._camera_present(spec)):
            spec = str(self._cameras[0].id) if self._cameras else spec
        if spec is None:
            self._set_source_state(SourceState("none", message="No camera found. Plug one in or open a video file."))
        else:
            self.set_source(spec, remember=False)
        if self.settings.virtual_camera and self._pipeline is not None:
            self.start_virtual_camera()
        return self

    def close(self) -> None:
        """Stop everything (the pipeline stops its source and sinks)."""
        self._closed = True
        worker = self._worker
        if worker is not None:
            self._jobs.put(None)
            worker.join(timeout=10.0)  # a camera being opened finishes first, then sees ``_closed``
        with self._lock:
            pipeline, self._pipeline = self._pipeline, None
            sink, self._sink = self._sink, None
            self._source = None
        if pipeline is not None:
            pipeline.stop()
        if sink is not None:
            _stop_quietly(sink)  # opened by us; the pipeline only stops sinks it has written to

    def _in_background(self, job: Callable[[], Any]) -> None:
        """Run ``job`` on the session's one worker thread, in order: opening cameras and loading the model
        take from 0.1 to a few seconds, which the GUI thread must never spend."""
        if self._closed:
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="deadpan-session", daemon=True)
                self._worker.start()
        self._jobs.put(job)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._closed:
                continue
            try:
                job()
            except Exception as exc:  # each job reports its own failures; this is the last line of defence
                self.events.message.emit(f"Something went wrong: {_one_line(exc)}")

    @property
    def running(self) -> bool:
        return self._pipeline is not None and self._pipeline.running

    @property
    def pipeline(self):
        """The live pipeline (for tests and the calibration dialog's read-only queries); ``None`` when stopped."""
        return self._pipeline

    # ----- cameras and sources ----------------------------------------------------------------------------------
    @property
    def cameras(self) -> list:
        return list(self._cameras)

    def refresh_cameras(self) -> list:
        """Re-list the cameras (cheap: it does not open devices); ``cameras`` fires only when the list changed."""
        try:
            found = list(self._list_cameras())
        except Exception:  # a failing lister means "no cameras", never a crash
            found = []
        with self._lock:  # the GUI's poll and the worker's start() may both list
            changed = [(c.id, c.name, c.path) for c in found] != [(c.id, c.name, c.path) for c in self._cameras]
            self._cameras = found
        if changed:
            self.events.cameras.emit(list(found))
            self._on_cameras_changed()
        return list(found)

    def _camera_present(self, spec: str) -> bool:
        return any(spec in (str(c.id), str(c.path)) for c in self._cameras)

    def _on_cameras_changed(self) -> None:
        # A camera appeared while we had none: start with it, so plugging one in just works.
        if self.source_state.state == "none" and self._cameras and self.settings.camera is None:
            self.set_source(str(self._cameras[0].id), remember=False, wait=False)

    def set_source(
        self, spec: str, *, remember: bool = True, wait: bool = True, release_first: bool = False
    ) -> bool | None:
        """Switch to ``spec`` (camera index, /dev/videoN or a video file). Output stays obscured until the new
        source's face is found. On failure the previous source keeps running and ``source`` says why.
        ``wait=False``: done on the worker thread (returns None; the ``source`` event tells the outcome).
        ``release_first``: close the current source before opening the new one (the same camera at another size:
        most drivers refuse a second open of a busy device); meanwhile the engine sends obscured frames."""
        if not wait:
            self._in_background(lambda: self.set_source(spec, remember=remember, release_first=release_first))
            return None
        s = self.settings
        if release_first and self._source is not None:
            _stop_quietly(self._source)
        try:
            source = self._open_source(spec, s.width, s.height, s.fps)
            pipeline = self._pipeline
            if pipeline is None:
                pipeline = self._build_pipeline(source)
                try:
                    pipeline.start()  # starts the source; raises if it cannot
                except BaseException:
                    pipeline.stop()
                    raise
                with self._lock:
                    if self._closed:  # the window closed while the camera was opening
                        pipeline.stop()
                        return False
                    self._pipeline = pipeline
            else:
                pipeline.set_source(source)  # starts it; on failure the old source keeps running
            with self._lock:
                self._source = source
        except Exception as exc:  # SourceError, OS and model errors alike become a message
            if release_first and self._source is not None:
                with contextlib.suppress(Exception):  # back to the camera as it was
                    self._source.start()
            why = exc.problem if isinstance(exc, SourceError) else _one_line(exc)  # the window has its own ways out
            message = f"Could not open {_display_name(spec)}: {why}"
            self._set_source_state(SourceState("failed", spec, message=message))
            self.events.message.emit(message)
            return False
        self._set_source_state(SourceState("open", spec, name=_source_name(source, spec)))
        if remember:
            self._change("camera", spec)
        return True

    def set_resolution(self, width: int, height: int) -> None:
        if (width, height) == (self.settings.width, self.settings.height):
            return
        self._change("width", width)
        self._change("height", height)
        self._reopen_camera()

    def set_fps(self, fps: int) -> None:
        if fps != self.settings.fps:
            self._change("fps", fps)
            self._reopen_camera()

    def _reopen_camera(self) -> None:
        spec = self.source_state.spec
        if self.source_state.state == "open" and spec is not None and not _is_file_spec(spec):
            self.set_source(spec, remember=False, wait=False, release_first=True)

    def _set_source_state(self, state: SourceState) -> None:
        self.source_state = state
        self.events.source.emit(state)

    # ----- filter settings --------------------------------------------------------------------------------------
    def pipeline_settings(self):
        """The :class:`PipelineSettings` the current choices stand for."""
        from app.pipeline.settings import PipelineSettings

        s = self.settings
        return PipelineSettings(
            filter_name=s.filter_name,
            strength=s.strength_for(s.filter_name),
            filter_options=self.filter_options(s.filter_name),
            panic=self.panic,
            max_faces=s.max_faces,
        )

    def filter_options(self, name: str) -> dict[str, Any]:
        if name != NEUTRALISE:
            return {}
        s = self.settings
        options = {
            "regions": tuple(s.regions),
            "region_strength": dict(s.region_strength),
            "keep_speech": s.keep_speech,
            "keep_blinks": s.keep_blinks,
        }
        if self._saved_reference is not None:
            options["reference"] = self._saved_reference
        return options

    def set_filter(self, name: str) -> None:
        from filters import filter_class

        filter_class(name)  # ValueError with the choices for an unknown name
        if name == self.settings.filter_name:
            return
        self._change("filter_name", name)
        self._update_pipeline(
            filter_name=name, strength=self.settings.strength_for(name), filter_options=self.filter_options(name)
        )

    @property
    def strength(self) -> float:
        return self.settings.strength_for(self.settings.filter_name)

    def set_strength(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {value}")
        strengths = dict(self.settings.strengths)
        strengths[self.settings.filter_name] = value
        self._change("strengths", strengths)
        self._update_pipeline(strength=value)

    def set_regions(self, regions: Sequence[str]) -> None:
        unknown = set(regions) - set(REGIONS)
        if unknown:
            raise ValueError(f"unknown region(s) {', '.join(sorted(unknown))}; choose from {', '.join(REGIONS)}")
        self._change("regions", tuple(r for r in REGIONS if r in regions))
        self._update_neutraliser_options()

    def set_region_strength(self, region: str, value: float) -> None:
        """How strongly one region (brows, eyes, mouth) is neutralised, 0..1; it acts only while the region is on."""
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; choose from {', '.join(REGIONS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"the strength of {region} must be a number between 0 and 1, got {value!r}")
        self._change("region_strength", {**self.settings.region_strength, region: float(value)})
        self._update_neutraliser_options()

    def set_keep_speech(self, keep: bool) -> None:
        self._change("keep_speech", bool(keep))
        self._update_neutraliser_options()

    def set_keep_blinks(self, keep: bool) -> None:
        self._change("keep_blinks", bool(keep))
        self._update_neutraliser_options()

    def _update_neutraliser_options(self) -> None:
        if self.settings.filter_name != NEUTRALISE:
            return
        # The engine builds a new neutraliser with these options; it carries the calibrated face over.
        self._update_pipeline(filter_options=self.filter_options(NEUTRALISE))

    def set_max_faces(self, count: int) -> None:
        """How many faces are filtered; with more in view the call gets a fully obscured frame (the tracker is
        rebuilt to look for one more than this)."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FACES:
            raise ValueError(f"faces must be a whole number from 1 to {MAX_FACES}, got {count!r}")
        if count != self.settings.max_faces:
            self._change("max_faces", count)
            self._update_pipeline(max_faces=count)

    def set_mirror(self, mirror: bool) -> None:
        """Mirror the local preview only; the call always gets the unmirrored image."""
        self._change("mirror", bool(mirror))

    def set_split(self, split: float) -> None:
        self._change("split", min(1.0, max(0.0, float(split))))

    def set_window_geometry(self, geometry: str) -> None:
        self._change("window_geometry", geometry)

    # ----- panic ------------------------------------------------------------------------------------------------
    def set_panic(self, on: bool) -> None:
        """Panic: every frame sent from now on is fully obscured, until turned off."""
        on = bool(on)
        if on == self.panic:
            return
        self.panic = on
        self._update_pipeline(panic=on)
        self.events.changed.emit("panic", on)

    def toggle_panic(self) -> bool:
        self.set_panic(not self.panic)
        return self.panic

    # ----- virtual camera ---------------------------------------------------------------------------------------
    def start_virtual_camera(self, *, wait: bool = True) -> VirtualCameraState:
        """Attach the virtual camera to the running pipeline. When it cannot start, the state carries the
        doctor's findings (what is wrong and how to fix it). ``wait=False``: on the worker thread (the driver
        and the doctor's checks may take a moment); returns the "starting" state at once."""
        if self.virtual_camera_state.state == "on":
            return self.virtual_camera_state
        if not wait:
            self._set_virtual_camera_state(VirtualCameraState("starting"))
            # Skipped if the user switched it off again before the worker got to it.
            self._in_background(lambda: self.virtual_camera_state.state == "starting" and self.start_virtual_camera())
            return self.virtual_camera_state
        if self._pipeline is None:
            state = VirtualCameraState("failed", message="Open a camera or a video file first.")
            self._set_virtual_camera_state(state)
            return state
        self._set_virtual_camera_state(VirtualCameraState("starting"))
        try:
            # Opened here, not lazily by the pipeline, so a missing driver is reported at once with the fix.
            tap = OutputTap(self._make_virtual_camera())
            info = self._source.info
            tap.start(info.width, info.height, self._pipeline.fps)
        except Exception as exc:  # any driver failure becomes findings in the window
            state = VirtualCameraState("failed", message=_one_line(exc), findings=tuple(self._run_doctor()))
            self._set_virtual_camera_state(state)
            return state
        with self._lock:
            self._sink = tap
            self._pipeline.add_sink(tap)
        state = VirtualCameraState("on", device=tap.device)
        self._set_virtual_camera_state(state)
        self._change("virtual_camera", True)
        return state

    @property
    def virtual_camera_sink(self) -> OutputTap | None:
        """The running virtual camera (``frames_sent``, ``last_sent_at`` drive the "sending" light)."""
        return self._sink

    def stop_virtual_camera(self) -> None:
        with self._lock:
            sink, self._sink = self._sink, None
            if sink is not None and self._pipeline is not None:
                self._pipeline.remove_sink(sink)
        if sink is not None:
            _stop_quietly(sink)
        self._set_virtual_camera_state(VirtualCameraState("off"))
        self._change("virtual_camera", False)

    def _run_doctor(self) -> list:
        try:
            if self._doctor is not None:
                return list(self._doctor())
            from app.doctor import run_checks

            return run_checks(str(self.model_path), saved_reference=False, cameras=False)
        except Exception as exc:
            return [Finding("doctor", False, f"the checks themselves failed: {_one_line(exc)}")]

    def _set_virtual_camera_state(self, state: VirtualCameraState) -> None:
        self.virtual_camera_state = state
        self.events.virtual_camera.emit(state)

    # ----- calibration (the neutraliser's API, reached through the live filter) -----------------------------------
    def _neutraliser(self):
        pipeline = self._pipeline
        live = pipeline.filter if pipeline is not None else None
        return live if live is not None and hasattr(live, "start_calibration") else None

    @property
    def can_calibrate(self) -> bool:
        """The neutraliser is chosen and a source is running (its live filter may be a frame away)."""
        return self.settings.filter_name == NEUTRALISE and self.running

    @property
    def calibration_ready(self) -> bool:
        """The live filter is the neutraliser, so ``start_calibration`` can begin now."""
        return self._neutraliser() is not None

    def start_calibration(self, seconds: float = 3.0) -> None:
        live = self._neutraliser()
        if live is None:
            raise RuntimeError("Calibration needs the neutralise filter and a running camera.")
        live.start_calibration(seconds=seconds)

    @property
    def calibration_message(self) -> str:
        """The neutraliser's word on the last calibration (why it failed), if any."""
        live = self._neutraliser()
        return getattr(live, "calibration_message", "") if live is not None else ""

    @property
    def calibration_progress(self) -> float | None:
        live = self._neutraliser()
        return None if live is None else live.calibration_progress

    def clear_reference(self) -> None:
        """Back to the automatic reference: the captured face is forgotten, and so is a saved one (its file is
        deleted), or the next option change would bring it back."""
        live = self._neutraliser()
        if live is not None:
            live.clear_reference()
        if self._saved_reference is not None or self.saved_reference_path.exists():
            from app.neutral_reference import forget_saved_reference

            forget_saved_reference(self.saved_reference_path)
            self._saved_reference = None
            self.saved_reference_problem = ""
            self._update_neutraliser_options()

    @property
    def has_saved_reference(self) -> bool:
        return self._saved_reference is not None

    def save_reference(self) -> Path:
        """Keep the calibrated face for next time (only on the user's request): one small file in the user's data
        folder, written atomically. RuntimeError when there is no calibrated face to save."""
        live = self._neutraliser()
        calibrated = live is not None and live.reference_source == "calibrated"
        reference = live.reference(self._face_id) if calibrated else None
        if reference is None:
            raise RuntimeError("Calibrate your neutral face first; then it can be saved for next time.")
        reference.save(self.saved_reference_path)
        self._saved_reference = reference
        self.saved_reference_problem = ""
        self._update_neutraliser_options()
        return self.saved_reference_path

    @property
    def current_face_id(self) -> int:
        """The id of the (first) face in view: the tracker's ids move on when a face is lost and found again."""
        return self._face_id

    def reference(self, face_id: int | None = None):
        """The neutral reference in use for the face in view (``NeutralReference``), or None."""
        live = self._neutraliser()
        return None if live is None else live.reference(self._face_id if face_id is None else face_id)

    def reference_image(self, face_id: int | None = None):
        live = self._neutraliser()
        return None if live is None else live.reference_image(self._face_id if face_id is None else face_id)

    @property
    def reference_source(self) -> str | None:
        """Where the reference in use came from: "auto", "calibrated", "saved" (the face saved for next time) or
        "file"; None without the neutraliser."""
        live = self._neutraliser()
        if live is None:
            return None
        source = live.reference_source
        if source == "file" and self._saved_reference is not None and live.reference(0) is self._saved_reference:
            return "saved"
        return source

    # ----- internals --------------------------------------------------------------------------------------------
    def _build_pipeline(self, source):
        from app.pipeline.engine import Pipeline

        pipeline = Pipeline(source, [], self.pipeline_settings(), model_path=self.model_path)
        pipeline.events.frame.connect(self._note_face)
        pipeline.events.frame.connect(self.events.frame.emit)
        pipeline.events.status.connect(self.events.status.emit)
        pipeline.events.stats.connect(self.events.stats.emit)
        return pipeline

    def _note_face(self, result) -> None:
        if result.faces:
            self._face_id = result.faces[0].face_id

    def _update_pipeline(self, **changes: Any) -> None:
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.update(**changes)

    def _change(self, name: str, value: Any) -> None:
        if getattr(self.settings, name) == value:
            return
        setattr(self.settings, name, value)
        self.events.changed.emit(name, value)
        if self._on_settings_changed is not None:
            self._on_settings_changed(self.settings)


class OutputTap(Sink):
    """Wraps the virtual camera so the session can open it first (errors shown at once) and count what it sends.

    The pipeline calls ``start`` again with the first frame's size: a no-op when it matches, else a reopen.
    """

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.size: tuple[int, int] | None = None
        self.frames_sent = 0
        self.last_sent_at = 0.0

    def start(self, width: int, height: int, fps: float) -> OutputTap:
        if self.size == (width, height):
            return self
        if self.size is not None:
            self.sink.stop()
            self.size = None
        self.sink.start(width, height, fps)
        self.size = (width, height)
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        self.sink.write(frame_bgr)
        self.frames_sent += 1
        self.last_sent_at = time.monotonic()

    def stop(self) -> None:
        if self.size is not None:
            self.size = None
            self.sink.stop()

    @property
    def device(self) -> str:
        return self.sink.device


def _available_filter(name: str) -> str:
    """The remembered filter if it still exists, else the neutraliser, else the first one registered."""
    from filters import filter_names

    names = filter_names()
    for candidate in (name, NEUTRALISE, "blur"):
        if candidate in names:
            return candidate
    return names[0]


def _display_name(spec: str) -> str:
    return Path(spec).name if _names_a_file(spec) else spec


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _source_name(source, spec: str) -> str:
    try:
        return source.info.name
    except Exception:
        return spec


def _stop_quietly(part) -> None:
    with contextlib.suppress(Exception):  # a part that fails to stop must not stop the app
        part.stop()

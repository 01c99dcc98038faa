"""Runs one fault through the real pipeline and measures what the call would have seen.

The output is the real ``VirtualCameraSink`` driving the real ``pyvirtualcam.Camera`` into the capturing
backend (``tests/capture_backend.py``); the input is a :class:`ScriptedCamera`. Measured per fault:

* leaked: frames the virtual camera received whose face region matches (``app.lab.leak``) one of the two
  newest raw frames the camera had handed over by then, in the TRUE face position (from the clean clip);
* recovery: from the moment the cause went away to the first frame sent with the face found and filtered;
* stream gaps: intervals between frames received by the virtual camera longer than 2 frame periods; a
  heartbeat thread (waking every 5 ms) tells the machine's stalls from the engine's: a gap during which the
  heartbeat itself stalled for most of it is the CPU being taken by others, reported apart (max CPU stall);
* crashes: the pipeline thread dying before the input ended, or an error logged for a frame it gave up on;
* statuses: every status the user was shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.lab.leak import OBSCURED, LeakDetector
from app.pipeline import Pipeline, PipelineSettings, Status
from app.sinks import Sink, VirtualCameraSink
from app.tracking import FaceTracker
from tests.capture_backend import BACKEND_NAME, CaptureBackend, register

from .camera import CameraScript, ScriptedCamera
from .painters import Faces

GAP_PERIODS = 2.0  # a gap longer than this many frame periods counts as the stream stalling


@dataclass
class Fault:
    """One fault scenario. ``frames``/``truth``: what the camera hands out and where the faces truly are.
    ``cause_ends``: the frame index from which the cause is gone (None: measured from ``cause_ended_at``
    set by an action, e.g. a driver coming back). ``actions``: run on a side thread (as a GUI would) when the
    camera has handed out frame i."""

    name: str
    frames: list[np.ndarray]
    truth: list[Faces]
    fps: float = 30.0
    script: CameraScript = field(default_factory=CameraScript)
    settings: PipelineSettings = field(default_factory=PipelineSettings)
    cause_starts: int = 0
    cause_ends: int | None = None
    actions: dict[int, Callable[[FaultRun], None]] = field(default_factory=dict)
    tracker_factory: Callable[[], FaceTracker] | None = None
    expect: str = OBSCURED
    exclude_gaps: Callable[[float, float], bool] | None = None  # (t0, t1) -> the gap is the fault's own
    extra_sinks: list[Sink] = field(default_factory=list)  # outputs beside the virtual camera


@dataclass
class FaultResult:
    name: str
    frames_in: int
    frames_out: int
    leaked: int
    max_score: float
    recovery_ms: float | None
    max_gap_ms: float  # the longest gap the engine is answerable for (not explained by a CPU stall)
    gaps: int
    crashes: int
    statuses: list[Status]
    fault_statuses: list[Status]
    error: str = ""
    cpu_stall_ms: float = 0.0  # the longest the heartbeat thread could not run (the machine, not the engine)

    def row(self) -> str:
        recovery = "n/a" if self.recovery_ms is None else f"{self.recovery_ms:.0f}"
        states = ",".join(dict.fromkeys(s.state for s in self.fault_statuses)) or "-"
        return (
            f"| {self.name} | {self.frames_in} | {self.frames_out} | {self.leaked} | {self.max_score:.2f} | "
            f"{recovery} | {self.max_gap_ms:.0f} | {self.gaps} | {self.cpu_stall_ms:.0f} | {self.crashes} | {states} |"
        )


TABLE_HEADER = (
    "| fault | frames in | frames out | leaked | max leak score | recovery ms | max gap ms | gaps > 2 periods "
    "| max CPU stall ms | crashes | status during fault |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class FaultRun:
    """The live objects of one run, handed to actions."""

    def __init__(self, fault: Fault, camera: ScriptedCamera, pipeline: Pipeline) -> None:
        self.fault = fault
        self.camera = camera
        self.pipeline = pipeline
        self.cause_ended_at: float | None = None
        self.cause_started_at: float | None = None


def run_fault(fault: Fault, model_path: Path, timeout_s: float = 30.0) -> FaultResult:
    backend = register()
    camera = ScriptedCamera(fault.frames, fault.fps, fault.script)
    sink = VirtualCameraSink(backend=BACKEND_NAME)
    tracker = fault.tracker_factory() if fault.tracker_factory else None
    errors = _ErrorCounter()
    logging.getLogger("app").addHandler(errors)
    frame_log: list[tuple[float, Status]] = []
    status_log: list[tuple[float, Status]] = []
    try:
        sinks = [sink, *fault.extra_sinks]
        pipeline = Pipeline(camera, sinks, fault.settings, model_path=model_path, tracker=tracker, fps=fault.fps)
    except Exception as exc:
        logging.getLogger("app").removeHandler(errors)
        return FaultResult(fault.name, 0, 0, 0, 0.0, None, 0.0, 0, 1, [], [], error=str(exc))
    pipeline.events.frame.connect(lambda r: frame_log.append((time.monotonic(), r.status)))
    pipeline.events.status.connect(lambda s: status_log.append((time.monotonic(), s)))
    run = FaultRun(fault, camera, pipeline)
    done = threading.Event()
    actor = threading.Thread(target=_act, args=(run, done), daemon=True)
    heartbeat: list[float] = []
    beater = threading.Thread(target=_heartbeat, args=(done, heartbeat), daemon=True)
    beater.start()
    died_early = False
    try:
        pipeline.start()
        actor.start()
        deadline = time.monotonic() + timeout_s
        while not camera.ended and time.monotonic() < deadline:
            if not pipeline.running:
                died_early = not camera.ended
                break
            time.sleep(0.02)
    finally:
        done.set()
        actor.join(5.0)
        beater.join(1.0)
        pipeline.stop()
        if tracker is not None:
            tracker.close()
        logging.getLogger("app").removeHandler(errors)
    return _measure(fault, run, backend, frame_log, status_log, errors.records, died_early, heartbeat)


def _act(run: FaultRun, done: threading.Event) -> None:
    pending = dict(sorted(run.fault.actions.items()))
    while pending and not done.is_set():
        delivered = run.camera.deliveries[-1].index if run.camera.deliveries else -1
        for index in [i for i in pending if i <= delivered]:
            pending.pop(index)(run)
        time.sleep(0.005)


def _cause_window(fault: Fault, run: FaultRun) -> tuple[float | None, float | None]:
    """(when the cause started, when it went away), in monotonic seconds."""
    camera = run.camera
    start, end = run.cause_started_at, run.cause_ended_at
    if start is None:
        start = next((d.at for d in camera.deliveries if d.index >= fault.cause_starts), None)
        outage_starts = [i for i in (*fault.script.stalls, *fault.script.read_errors) if i >= fault.cause_starts]
        if outage_starts and camera.deliveries:
            before = [d.at for d in camera.deliveries if d.index < min(outage_starts)]
            start = before[-1] if before else start
    if end is None and fault.cause_ends is not None:
        resumed = [t for i, t in camera.resumed_at.items() if i <= fault.cause_ends]
        if resumed:
            end = max(resumed)
        else:
            end = next((d.at for d in camera.deliveries if d.index >= fault.cause_ends), None)
    return start, end


def _measure(
    fault: Fault,
    run: FaultRun,
    backend: type[CaptureBackend],
    frame_log: Sequence[tuple[float, Status]],
    status_log: Sequence[tuple[float, Status]],
    error_records: Sequence[logging.LogRecord],
    died_early: bool,
    heartbeat: Sequence[float],
) -> FaultResult:
    with backend.lock:
        received = list(zip(backend.times, backend.frames))
    detector = LeakDetector(fault.expect)
    deliveries = [d for d in run.camera.deliveries if isinstance(d.image, np.ndarray)]
    leaked, max_score, k = 0, 0.0, 0
    for sent_at, frame in received:
        while k < len(deliveries) and deliveries[k].at <= sent_at:
            k += 1
        worst = False
        for delivery in deliveries[max(0, k - 2) : k]:
            raw = delivery.image
            if raw.ndim != 3 or raw.shape[2] != 3 or raw.dtype != np.uint8 or raw.size == 0:
                continue
            verdict = detector.check(raw, frame, fault.truth[delivery.index])
            max_score = max(max_score, verdict.score)
            worst = worst or verdict.leaked
        leaked += worst
    times = np.array([t for t, _ in received])
    period = 1.0 / fault.fps
    beats = np.array(heartbeat)
    gaps, max_gap = 0, 0.0
    for t0, t1 in zip(times[:-1], times[1:]):
        if fault.exclude_gaps is not None and fault.exclude_gaps(t0, t1):
            continue
        gaps += (t1 - t0) > GAP_PERIODS * period
        if _cpu_stall(beats, t0, t1) < 0.5 * (t1 - t0):
            max_gap = max(max_gap, t1 - t0)
    start, end = _cause_window(fault, run)
    recovery = None
    if end is not None:
        found = [t for t, status in frame_log if t >= end and status.state == "face_found"]
        if fault.exclude_gaps is not None:  # an output outage: recovered once the driver has a frame again
            found = [t for t in times if t >= end][:1]
        recovery = (found[0] - end) * 1000.0 if found else float("inf")
    fault_statuses = []
    if start is not None:
        until = (end if end is not None else float("inf")) + 1.0
        fault_statuses = [s for t, s in status_log if start <= t <= until and s.state != "stopped"]  # not "input ended"
    return FaultResult(
        name=fault.name,
        frames_in=len(run.camera.deliveries),
        frames_out=len(received),
        leaked=leaked,
        max_score=max_score,
        recovery_ms=recovery,
        max_gap_ms=max_gap * 1000.0,
        gaps=gaps,
        cpu_stall_ms=float(np.diff(beats).max()) * 1000.0 if len(beats) > 1 else 0.0,
        crashes=len(error_records) + int(died_early),
        statuses=[s for _, s in status_log],
        fault_statuses=fault_statuses,
    )


def _cpu_stall(beats: np.ndarray, t0: float, t1: float) -> float:
    """The longest interval between heartbeats overlapping (t0, t1), in seconds."""
    if len(beats) < 2:
        return 0.0
    i0 = max(0, int(np.searchsorted(beats, t0)) - 1)
    i1 = min(len(beats), int(np.searchsorted(beats, t1)) + 1)
    window = beats[i0:i1]
    return float(np.diff(window).max()) if len(window) > 1 else 0.0


def _heartbeat(done: threading.Event, beats: list[float]) -> None:
    while not done.is_set():
        beats.append(time.monotonic())
        time.sleep(0.005)


def write_table(results: Sequence[FaultResult], path: Path) -> str:
    table = "\n".join([TABLE_HEADER, *(r.row() for r in results)])
    path.write_text(table + "\n")
    return table

"""Offline processing (``deadpan process``): every frame of a video or an image, in order, as fast as possible.

The tracker sees every frame in order (VIDEO mode, timestamps from the frame index) through the same
``Pipeline.process_frame`` as the live path, so the fail-closed policy is identical. To use both cores,
decoding runs on one thread and encoding on another, overlapping tracking and filtering on the caller's
thread (OpenCV and MediaPipe release the GIL while they work).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.pipeline.engine import Pipeline
from app.pipeline.settings import PipelineSettings
from app.sinks.base import Sink
from app.sources import IMAGE_SUFFIXES
from app.sources.base import CapturedFrame, Source
from app.tracking import IMAGE, FaceTracker

_END = object()

Progress = Callable[[int, int | None], None]


@dataclass
class ProcessReport:
    """What ``process`` did, for ``--stats``: no pixels, only counts and timings."""

    input: str
    output: str
    filter: str
    width: int = 0
    height: int = 0
    frames: int = 0
    wall_s: float = 0.0
    fps: float = 0.0
    states: dict[str, int] = field(default_factory=dict)
    stage_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    sound: str = ""  # videos: "kept", "none" (the input has none) or "not kept: why"

    def as_dict(self) -> dict:
        return asdict(self)


class _StageTimes:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, stage: str, ms: float) -> None:
        self.samples.setdefault(stage, []).append(ms)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for stage, values in self.samples.items():
            a = np.asarray(values)
            p50, p95 = np.percentile(a, [50, 95])
            out[stage] = {"mean": float(a.mean()), "p50": float(p50), "p95": float(p95), "max": float(a.max())}
        return out


def _is_bgr(image: object) -> bool:
    return isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


class _OrderedStage:
    """A producer thread handing every item, in order, to the consumer through a short queue (offline only:
    nothing may be dropped). An exception in the producer is re-raised in the consumer."""

    def __init__(self, name: str, depth: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator:
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._stop.set()
            self._thread.join(timeout=5.0)


class Prefetcher(_OrderedStage):
    """Reads an offline source on its own thread into a short queue (every frame kept, in order), yielding
    ``(captured, rgb)``."""

    def __init__(self, source: Source, times: _StageTimes, depth: int = 6) -> None:
        super().__init__("deadpan-decode", depth)
        self._source, self._times = source, times

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t = time.perf_counter()
                frame = self._source.read()
                if frame is None:
                    break
                # Converted for the tracker here: tracking is the one stage that cannot run in parallel.
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB) if _is_bgr(frame.image) else None
                self._times.add("decode", (time.perf_counter() - t) * 1000.0)
                self._put((frame, rgb))
        except Exception as exc:  # handed to the consumer, which reports it
            self._put(exc)
        self._put(_END)


class TrackAhead(_OrderedStage):
    """Runs the real tracker on its own thread, one stage ahead of filtering: every frame, in order, with the
    faces found in it (or the exception tracking raised, which the pipeline then handles fail-closed)."""

    def __init__(
        self,
        frames: Iterator[tuple[CapturedFrame, np.ndarray | None]],
        tracker: FaceTracker,
        fps: float,
        times: _StageTimes,
    ) -> None:
        super().__init__("deadpan-track", 4)
        self._frames, self._tracker, self._fps, self._times = frames, tracker, fps, times

    def _run(self) -> None:
        try:
            for captured, rgb in self._frames:
                t = time.perf_counter()
                try:
                    found: list | BaseException = self._tracker.track(
                        captured.image, round(captured.index * 1000.0 / self._fps), rgb=rgb
                    )
                except Exception as exc:
                    found = exc
                self._times.add("track", (time.perf_counter() - t) * 1000.0)
                if not self._put((captured, found)):
                    return
        except Exception as exc:  # decoding failed: the consumer reports it
            self._put(exc)
        finally:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()  # stops the decoding thread before anyone releases the video file
        self._put(_END)


class PreTracked:
    """Stands in for the tracker inside the pipeline: hands over what :class:`TrackAhead` already found for
    the frame being processed (re-raising a tracking failure, so the fail-closed path is the live one)."""

    def __init__(self) -> None:
        self.found: list | BaseException = []

    def track(self, frame_bgr: np.ndarray, timestamp_ms: int | None = None) -> list:
        if isinstance(self.found, BaseException):
            raise self.found
        return self.found

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class ThreadedSink(Sink):
    """Wraps a sink so its writes (encoding) happen on a thread of their own, in order, none dropped.
    A failure on that thread is raised by the next ``write`` or by ``stop``."""

    def __init__(self, sink: Sink, times: _StageTimes | None = None, depth: int = 6) -> None:
        self.sink, self._times = sink, times
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, width: int, height: int, fps: float) -> ThreadedSink:
        self.sink.start(width, height, fps)
        self._thread = threading.Thread(target=self._run, name="deadpan-encode", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is not None:
                continue  # drain so the producer never blocks on a dead writer
            try:
                t = time.perf_counter()
                self.sink.write(frame)
                if self._times is not None:
                    self._times.add("encode", (time.perf_counter() - t) * 1000.0)
            except BaseException as exc:
                self._error = exc

    def write(self, frame_bgr: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(frame_bgr)

    def abort(self) -> None:
        """Stop the writer thread without finishing the output (the caller discards it)."""
        self._error = self._error or RuntimeError("aborted")
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.sink.stop()
        if self._error is not None:
            raise self._error

    @property
    def device(self) -> str:
        return self.sink.device


class _StrictSink(Sink):
    """Offline an output failure must end the job (a file with holes is worse than none), unlike live sinks."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.error: BaseException | None = None

    def start(self, width: int, height: int, fps: float) -> _StrictSink:
        try:
            self.sink.start(width, height, fps)
        except BaseException as exc:  # the pipeline retries live outputs that fail to open; a job ends here
            self.error = exc
            raise
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        try:
            self.sink.write(frame_bgr)
        except BaseException as exc:
            self.error = exc
            raise

    def stop(self) -> None:
        try:
            self.sink.stop()
        except BaseException as exc:
            self.error = self.error or exc
            raise

    @property
    def device(self) -> str:
        return self.sink.device


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def process_video(
    input_path: str | Path,
    output_path: str | Path,
    settings: PipelineSettings,
    *,
    model_path: str | Path,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ProcessReport:
    """Filter every frame of ``input_path`` into ``output_path`` (same size, frame count and fps). The output
    appears only when complete; on any error or cancel nothing is left behind."""
    from app.sinks import VideoFileSink
    from app.sources import VideoFileSource

    output_path = Path(output_path)
    times = _StageTimes()
    source = VideoFileSource(input_path, realtime=False).start()
    info = source.info
    # Written under a temporary name, the input's sound added, renamed into place by stop().
    video = VideoFileSink(output_path, sound_from=input_path)
    encoder = ThreadedSink(video, times)
    strict = _StrictSink(encoder)
    tracker = settings.build_tracker(model_path)
    pre_tracked = PreTracked()
    pipeline = Pipeline(None, [strict], settings, tracker=pre_tracked, fps=info.fps)  # type: ignore[arg-type]
    report = ProcessReport(str(input_path), str(output_path), settings.filter_name, info.width, info.height)
    states: Counter[str] = Counter()
    started = time.perf_counter()
    try:
        for captured, found in TrackAhead(iter(Prefetcher(source, times)), tracker, info.fps, times):
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            pre_tracked.found = found
            result = pipeline.process_frame(captured)
            if strict.error is not None:
                raise strict.error
            states[result.status.state] += 1
            for stage, ms in result.timings_ms.items():
                if stage not in ("read_wait", "sink", "track"):  # tracking is timed on its own thread
                    times.add(stage, ms)
            report.frames += 1
            if progress is not None:
                progress(report.frames, info.frame_count)
        if report.frames == 0:
            raise ValueError(f"{input_path} has no readable frames")
        pipeline.stop()  # flushes the encoder and moves the file into place
        if strict.error is not None:
            raise strict.error
    except BaseException:
        encoder.abort()
        video.discard()
        _stop_quietly(pipeline)
        raise
    finally:
        source.stop()
        tracker.close()
    report.wall_s = time.perf_counter() - started
    report.fps = report.frames / report.wall_s if report.wall_s > 0 else 0.0
    report.states = dict(states)
    report.stage_ms = times.summary()
    report.sound = video.sound
    return report


def process_image(
    input_path: str | Path, output_path: str | Path, settings: PipelineSettings, *, model_path: str | Path
) -> ProcessReport:
    """Filter one still image (IMAGE-mode tracker: no history to lean on) into ``output_path``."""
    from app.sinks import ImageFileSink
    from app.sources import ImageSource

    source = ImageSource(input_path, realtime=False).start()
    started = time.perf_counter()
    try:
        captured = source.read()
    finally:
        source.stop()
    strict = _StrictSink(ImageFileSink(output_path))
    tracker = settings.build_tracker(model_path, mode=IMAGE)
    pipeline = Pipeline(None, [strict], settings, tracker=tracker)
    try:
        result = pipeline.process_frame(captured, timestamp_ms=0)
    finally:
        pipeline.stop()  # saves the image, atomically
        tracker.close()
    if strict.error is not None:
        raise strict.error
    height, width = result.output.shape[:2]
    wall = time.perf_counter() - started
    report = ProcessReport(str(input_path), str(output_path), settings.filter_name, width, height, 1, wall)
    report.fps = 1 / wall if wall > 0 else 0.0
    report.states = {result.status.state: 1}
    report.stage_ms = {k: {"mean": v, "p50": v, "p95": v, "max": v} for k, v in result.timings_ms.items()}
    return report


def _stop_quietly(pipeline: Pipeline) -> None:
    with contextlib.suppress(Exception):
        pipeline.stop()

"""``deadpan bench``: every filter at every strength on every input, measured, written to one folder.

For each input the lab first tracks it as the live app would (VIDEO-mode FaceTracker with smoothing: the faces
the filters receive) and measures it with a fresh IMAGE-mode landmarker (the baseline). Then, for every filter x
strength, it runs ``filter.apply`` frame by frame on those faces and re-measures the output with a new IMAGE-mode
landmarker. Frames where the tracker finds no face are obscured whole, as the live pipeline does (fail closed).

Inputs are processed in parallel over ``--workers`` processes; each input's numbers depend only on that input, so
the results are the same for any number of workers (apart from the timing columns).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from queue import Empty
from typing import Any, TextIO

import cv2
import numpy as np

from app.lab.contact_sheet import crop_tile, face_box
from app.lab.judge import ExpressionJudge, JudgeError, confusion_table, label_distribution, top_labels
from app.lab.metrics import (
    affect_residual,
    face_found,
    family_leakage,
    jitter_ratio,
    leakage_ratio,
    neutral_frame,
    speech_kept,
)
from app.lab.report import RESULT_COLUMNS, write_report, write_results
from app.tracking import IMAGE, VIDEO, FaceTracker
from filters.base import BLENDSHAPE_NAMES, Face
from filters.face_region import face_mask
from filters.obscure import obscure_frame

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)

# "Background": pixels outside the face mask grown by this margin (face sizes), with no feather. A filter's own
# default margin is 0.15 plus a 0.08 feather, so anything it changes beyond 0.3 is outside its own region.
BACKGROUND_MARGIN = 0.3
# A background pixel counts as unchanged when no channel moved by more than this (rounding, not a visible edit).
BACKGROUND_TOLERANCE = 2
# The judge's labels that read as "expressive" for the neutralised share (its strongest classes).
EXPRESSIVE_LABELS = ("happy", "surprise")


class BenchError(Exception):
    """Bad bench input or option; the message is one line saying what to do."""


@dataclass(frozen=True)
class BenchInput:
    """One measured input: a video, or a set of still images of one person measured together."""

    name: str
    paths: tuple[Path, ...]
    kind: str  # "video" | "images"


@dataclass(frozen=True)
class BenchConfig:
    filters: tuple[str, ...]
    strengths: tuple[float, ...]
    model_path: str
    judge_path: str | None = None
    reference: str = "auto"
    max_frames: int | None = None
    step: int = 1


@dataclass
class InputResult:
    name: str
    rows: list[dict[str, Any]]
    confusion: dict[str, list[list[int]]]  # "filter@strength" -> table (rows input label, cols output label + none)
    input_tile: np.ndarray | None
    tiles: dict[str, np.ndarray] = field(default_factory=dict)  # "filter@strength" -> contact-sheet tile


def cell_key(filter_name: str, strength: float) -> str:
    return f"{filter_name}@{strength:g}"


# --- inputs -------------------------------------------------------------------------------------------------


def discover_inputs(specs: Sequence[str | Path]) -> list[BenchInput]:
    """Videos become one input each; images given together (or in one folder) form one input."""
    inputs: list[BenchInput] = []
    loose_images: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if not path.exists():
            raise BenchError(f"input not found: {path}")
        if path.is_dir():
            children = sorted(p for p in path.iterdir() if p.is_file())
            videos = [p for p in children if p.suffix.lower() in VIDEO_EXTENSIONS]
            images = [p for p in children if p.suffix.lower() in IMAGE_EXTENSIONS]
            if not videos and not images:
                raise BenchError(f"no videos or images in folder {path}")
            inputs += [BenchInput(p.stem, (p,), "video") for p in videos]
            if images:
                inputs.append(BenchInput(path.name or "images", tuple(images), "images"))
        elif path.suffix.lower() in VIDEO_EXTENSIONS:
            inputs.append(BenchInput(path.stem, (path,), "video"))
        elif path.suffix.lower() in IMAGE_EXTENSIONS:
            loose_images.append(path)
        else:
            raise BenchError(f"not a video or image: {path} (use {', '.join(sorted(VIDEO_EXTENSIONS))} or images)")
    if loose_images:
        name = loose_images[0].stem if len(loose_images) == 1 else "images"
        inputs.append(BenchInput(name, tuple(loose_images), "images"))
    seen: dict[str, int] = {}
    unique = []
    for item in inputs:  # two clips with the same file name in different folders keep distinct names
        count = seen.get(item.name, 0)
        seen[item.name] = count + 1
        unique.append(item if count == 0 else BenchInput(f"{item.name}-{count + 1}", item.paths, item.kind))
    return unique


def read_input(item: BenchInput, max_frames: int | None = None, step: int = 1) -> Iterator[tuple[np.ndarray, int]]:
    """(frame, timestamp ms) pairs: every ``step``-th frame, at most ``max_frames`` of them."""
    produced = 0
    if item.kind == "images":
        for index, path in enumerate(item.paths):
            if index % step:
                continue
            if max_frames is not None and produced >= max_frames:
                return
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise BenchError(f"cannot read image {path}")
            produced += 1
            yield frame, index * 33
        return
    cap = cv2.VideoCapture(str(item.paths[0]))
    if not cap.isOpened():
        raise BenchError(f"cannot open video {item.paths[0]}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    try:
        index = 0
        while max_frames is None or produced < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                produced += 1
                yield frame, int(index * 1000 / fps)
            index += 1
    finally:
        cap.release()


def estimated_frames(item: BenchInput, config: BenchConfig) -> int:
    """How many frames :func:`read_input` will yield (from the container's frame count for videos)."""
    if item.kind == "images":
        total = len(item.paths)
    else:
        cap = cv2.VideoCapture(str(item.paths[0]))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        cap.release()
    count = -(-total // config.step)
    return min(count, config.max_frames) if config.max_frames else count


# --- measuring ----------------------------------------------------------------------------------------------


def _background_outside(shape: tuple[int, ...], faces: Sequence[Face]) -> np.ndarray:
    mask, _ = face_mask(shape[:2], faces, margin=BACKGROUND_MARGIN, feather=0.0)
    return mask <= 0.0


def _option_value(text: str) -> Any:
    """``true``/``false``, a number, ``a+b`` (a tuple), or the text itself."""
    if "+" in text:
        return tuple(_option_value(part) for part in text.split("+") if part)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_filter_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name:option=value:option=value`` (e.g. ``neutralise:keep_speech=true``) -> (name, options).
    Each value takes the kind of the option's default (true/false, a number, a list ``a+b``, a mapping
    ``a=1+b=0.5``), and the filter is built once with them, so a wrong value fails here, in one line, not in
    every job of a long run. Raises BenchError for an unknown filter, option or value."""
    from filters import filter_class

    name, *parts = spec.split(":")
    try:
        parameters = inspect.signature(filter_class(name).__init__).parameters
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    options: dict[str, Any] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in parameters or key in ("self", "strength"):
            known = ", ".join(p for p in parameters if p not in ("self", "strength"))
            raise BenchError(f"filter {name!r} has no option {part!r} (write {name}:OPTION=VALUE; options: {known})")
        try:
            options[key] = _typed_option(parameters[key], value)
        except ValueError as exc:
            raise BenchError(f"{name}: {exc}") from None
    try:  # the filter's own checks (ranges, names); a reference is loaded by the run itself
        filter_class(name)(**{k: v for k, v in options.items() if k != "reference"})
    except (ValueError, TypeError) as exc:
        raise BenchError(f"{name}: {exc}") from None
    return name, options


def _typed_option(parameter: inspect.Parameter, text: str) -> Any:
    """``text`` as the kind of value the constructor's ``parameter`` takes (by its default, or its annotation
    for a mapping); ValueError naming the option when it cannot be."""
    key, default = parameter.name, parameter.default
    if "=" in text:  # the value holds NAME=VALUE pairs
        pairs = [part.partition("=") for part in text.split("+") if part]
        if not all(sep and name for name, sep, _ in pairs):
            raise ValueError(f"{key} takes NAME=VALUE pairs joined by +, got {text!r}")
        return {name: _option_value(value) for name, _, value in pairs}
    value = _option_value(text)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{key} takes true or false, got {text!r}")
    elif isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key} takes a number, got {text!r}")
    elif isinstance(default, tuple | list) and not isinstance(value, tuple):
        value = (value,)  # one item: a list of one, not the letters of a name
    elif "Mapping" in str(parameter.annotation):
        raise ValueError(f"{key} takes NAME=VALUE pairs joined by +, e.g. brows=0.5+mouth=1, got {text!r}")
    return value


def _filter_options(spec: str, reference: Any) -> tuple[str, dict[str, Any]]:
    """The filter's name and options: those in its spec, plus ``--reference`` for filters that take one."""
    from filters import filter_class

    name, options = parse_filter_spec(spec)
    parameters = inspect.signature(filter_class(name).__init__).parameters
    if "reference" in parameters and reference is not None:
        options.setdefault("reference", reference)
    return name, options


def load_reference(path: str, model_path: str) -> Any:
    """``--reference PATH`` for filters that take one: a saved reference (.npz) or a photo of the neutral face."""
    from app.neutral_reference import load_reference as load_neutral_reference

    if not Path(path).is_file():
        raise BenchError(f"reference not found: {path}")
    try:
        return load_neutral_reference(path, model_path)
    except (ValueError, OSError) as exc:
        raise BenchError(f"--reference: {exc}") from None  # the reason names the file


@dataclass
class _Measured:
    blendshapes: np.ndarray  # (N, 52), NaN rows where no face
    faces: list[Face | None]
    judge_labels: np.ndarray  # (N,) label index, -1 where no crop


def _measure(
    frames: Sequence[np.ndarray] | Iterator[np.ndarray],
    model_path: str,
    judge: ExpressionJudge | None,
    crop_faces: Sequence[Face | None] | None,
) -> _Measured:
    """A fresh IMAGE-mode landmarker over the frames, plus the judge on each frame cropped at ``crop_faces``
    (the INPUT's face positions, so input and output are judged on the same region even when the output has
    no detectable face) or at the frame's own face."""
    rows, faces, labels = [], [], []
    nan_row = np.full(len(BLENDSHAPE_NAMES), np.nan, np.float32)
    with FaceTracker(model_path, mode=IMAGE, smoothing=None) as tracker:
        for i, frame in enumerate(frames):
            found = tracker.track(frame)
            face = found[0] if found else None
            faces.append(face)
            rows.append(face.blendshapes if face is not None else nan_row)
            crop_face = crop_faces[i] if crop_faces is not None else face
            if judge is not None and crop_face is not None:
                labels.append(int(top_labels(judge.classify(frame, crop_face)[None])[0]))
            else:
                labels.append(-1)
    table = np.stack(rows) if rows else np.zeros((0, len(BLENDSHAPE_NAMES)), np.float32)
    return _Measured(table, faces, np.array(labels, np.int64))


def _judge_metrics(input_labels: np.ndarray, output_labels: np.ndarray, neutral_label: int) -> dict[str, float]:
    nan = float("nan")
    judged = (input_labels >= 0) & (output_labels >= 0)
    if not judged.any():
        return {"judge_agree_input": nan, "judge_agree_neutral": nan, "judge_neutralised": nan} | {
            f"judge_share_{label}": nan for label in ExpressionJudge.LABELS
        }
    out = output_labels[judged]
    calm = (out == ExpressionJudge.NEUTRAL) | (out == neutral_label)
    expressive = np.isin(input_labels[judged], [ExpressionJudge.LABELS.index(x) for x in EXPRESSIVE_LABELS])
    shares = label_distribution(out)
    return {
        "judge_agree_input": float((out == input_labels[judged]).mean()),
        "judge_agree_neutral": float((out == ExpressionJudge.NEUTRAL).mean()),
        # issue 3's test: where the input looked happy or surprised, does the output look neutral (or like the
        # person's neutral frame)?
        "judge_neutralised": float(calm[expressive].mean()) if expressive.any() else nan,
    } | {f"judge_share_{label}": float(shares[i]) for i, label in enumerate(ExpressionJudge.LABELS)}


@dataclass
class _Baseline:
    """One input, measured once before any filter runs."""

    frames: Callable[[], Iterator[tuple[np.ndarray, int]]]  # re-reads the input (frames are not all kept in memory)
    tracked: list[tuple[Face, ...]]  # what the filters get, per frame
    measured: _Measured  # the fresh IMAGE-mode measure of the input
    neutral: np.ndarray | None  # the person's most neutral frame's blendshapes (None: no face anywhere)
    neutral_index: int
    sheet_index: int  # the most expressive frame: the one shown on the contact sheet
    judge_label: str  # the judge's most frequent label on the input


def _baseline(item: BenchInput, config: BenchConfig, judge: ExpressionJudge | None) -> _Baseline:
    def frames() -> Iterator[tuple[np.ndarray, int]]:
        return read_input(item, config.max_frames, config.step)

    # What the filters get: the live app's tracking (VIDEO + smoothing for clips; stills are tracked one by one).
    tracked: list[tuple[Face, ...]] = []
    with FaceTracker(config.model_path, mode=VIDEO if item.kind == "video" else IMAGE) as tracker:
        for frame, timestamp_ms in frames():
            tracked.append(tuple(tracker.track(frame, timestamp_ms)))
    if not tracked:
        raise BenchError(f"no frames could be read from {item.paths[0]}")
    measured = _measure((frame for frame, _ in frames()), config.model_path, judge, None)
    neutral = None
    sheet_index = neutral_index = 0
    if face_found(measured.blendshapes).any():
        neutral_index = neutral_frame(measured.blendshapes)
        neutral = measured.blendshapes[neutral_index].copy()
        sheet_index = int(np.nanargmax(affect_residual(measured.blendshapes, neutral)))
    counts = np.bincount(measured.judge_labels[measured.judge_labels >= 0], minlength=len(ExpressionJudge.LABELS))
    label = ExpressionJudge.LABELS[int(np.argmax(counts))] if counts.sum() else ""
    return _Baseline(frames, tracked, measured, neutral, neutral_index, sheet_index, label)


def _sheet_tile(frame: np.ndarray, baseline: _Baseline) -> np.ndarray:
    face = baseline.measured.faces[baseline.sheet_index] if baseline.measured.faces else None
    return crop_tile(frame, face_box(face, frame.shape) if face is not None else None)


def measure_input(item: BenchInput, config: BenchConfig, progress: Callable[[str], None] | None = None) -> InputResult:
    """Every filter x strength on one input; ``progress(label)`` is called after each grid cell."""
    import filters  # noqa: F401  (registers every filter, also in a fresh worker process)
    from filters import create_filter

    judge = ExpressionJudge(config.judge_path) if config.judge_path else None
    reference = load_reference(config.reference, config.model_path) if config.reference != "auto" else None
    baseline = _baseline(item, config, judge)
    result = InputResult(item.name, [], {}, None)
    for index, (frame, _) in enumerate(baseline.frames()):
        if index == baseline.sheet_index:
            result.input_tile = _sheet_tile(frame, baseline)
            break

    for filter_name in config.filters:  # a filter spec: a registered name, possibly with options
        name, options = _filter_options(filter_name, reference)
        for strength in config.strengths:
            key = cell_key(filter_name, strength)
            row: dict[str, Any] = {
                "input": item.name,
                "frames": len(baseline.tracked),
                "filter": filter_name,
                "strength": strength,
                "judge_input_label": baseline.judge_label,
                "error": "",
            }
            try:
                metrics, tile, confusion = _measure_cell(
                    create_filter(name, strength, **options), baseline, judge, config.model_path
                )
                row |= metrics
                result.tiles[key] = tile
                if confusion is not None:
                    result.confusion[key] = confusion
            except Exception as exc:  # one broken filter must not lose the whole grid: record it, go on
                row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            result.rows.append({column: row.get(column, float("nan")) for column in RESULT_COLUMNS})
            if progress is not None:
                progress(f"{item.name} · {filter_name} · {strength:g}")
    return result


def _measure_cell(
    filt: Any, baseline: _Baseline, judge: ExpressionJudge | None, model_path: str
) -> tuple[dict[str, float], np.ndarray | None, list[list[int]] | None]:
    """One filter at one strength over the input: (metrics, contact-sheet tile, judge confusion table)."""
    costs: list[float] = []
    background_kept = background_total = 0
    tile = None

    def outputs() -> Iterator[np.ndarray]:
        nonlocal background_kept, background_total, tile
        filt.reset()
        for index, (frame, _) in enumerate(baseline.frames()):
            faces = baseline.tracked[index]
            start = time.perf_counter()
            # No tracked face: the frame is obscured whole, as the live pipeline does (fail closed).
            out = filt.apply(frame.copy(), faces) if faces else obscure_frame(frame.copy())
            costs.append((time.perf_counter() - start) * 1000.0)
            if out.shape != frame.shape or out.dtype != np.uint8:
                raise ValueError(f"filter returned {out.shape} {out.dtype} for a {frame.shape} frame")
            outside = _background_outside(frame.shape, faces)
            unchanged = np.abs(out.astype(np.int16) - frame).max(axis=2) <= BACKGROUND_TOLERANCE
            background_kept += int(np.count_nonzero(outside & unchanged))
            background_total += int(np.count_nonzero(outside))
            if index == baseline.sheet_index:
                tile = _sheet_tile(out, baseline)
            yield out

    measured_in = baseline.measured
    measured_out = _measure(outputs(), model_path, judge, measured_in.faces)
    has_in = face_found(measured_in.blendshapes)
    has_out = face_found(measured_out.blendshapes)
    nan = float("nan")
    metrics: dict[str, float] = {
        "face_kept": float(has_out[has_in].mean()) if has_in.any() else nan,
        "jitter_ratio": jitter_ratio(measured_in.faces, measured_out.faces),
        "background_unchanged": background_kept / background_total if background_total else nan,
        "cost_ms": float(np.median(costs)) if costs else nan,
        "cost_p95_ms": float(np.percentile(costs, 95)) if costs else nan,
    }
    neutral = baseline.neutral
    if neutral is not None:
        metrics["leakage"] = leakage_ratio(measured_in.blendshapes, measured_out.blendshapes, neutral)
        for family, value in family_leakage(measured_in.blendshapes, measured_out.blendshapes, neutral).items():
            metrics[f"leakage_{family}"] = value
        metrics["speech_kept"] = speech_kept(measured_in.blendshapes, measured_out.blendshapes, neutral)
    confusion = None
    if judge is not None:
        labels_in, labels_out = measured_in.judge_labels, measured_out.judge_labels
        metrics |= _judge_metrics(labels_in, labels_out, int(labels_in[baseline.neutral_index]))
        confusion = confusion_table(labels_in, labels_out).tolist()
    return metrics, tile, confusion


# --- the grid, in parallel ----------------------------------------------------------------------------------


class TextProgress:
    """A one-line progress bar over the whole grid (written to a terminal, or line by line to a log)."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream if stream is not None else sys.stderr
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._started = time.monotonic()

    def advance(self, label: str) -> None:
        self.done += 1
        filled = int(self.width * self.done / max(self.total, 1))
        elapsed = time.monotonic() - self._started
        eta = elapsed / self.done * (self.total - self.done)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"bench [{bar}] {self.done}/{self.total} {elapsed:5.0f}s (eta {eta:4.0f}s)  {label}"
        if self._tty:
            self.stream.write("\r" + line[:118].ljust(118))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _measure_in_worker(item: BenchInput, config: BenchConfig, queue: Any) -> InputResult:
    return measure_input(item, config, progress=queue.put)


def run_grid(
    inputs: Sequence[BenchInput], config: BenchConfig, workers: int = 1, progress: TextProgress | None = None
) -> list[InputResult]:
    """Measure every input (in ``workers`` processes); results come back in input order."""
    advance = progress.advance if progress is not None else None
    if workers <= 1 or len(inputs) <= 1:
        return [measure_input(item, config, advance) for item in inputs]
    context = get_context("spawn")  # mediapipe's threads do not survive fork()
    with context.Manager() as manager:
        queue = manager.Queue()
        # A Pool, not a ProcessPoolExecutor: on Ctrl-C or an error it can stop its workers at once
        # (terminate); the executor's exit waits for every job, each a whole input, to finish.
        pool = context.Pool(min(workers, len(inputs)))
        try:
            # Longest inputs first, so the last worker does not run one long clip alone at the end.
            order = sorted(range(len(inputs)), key=lambda i: -estimated_frames(inputs[i], config))
            submitted = {i: pool.apply_async(_measure_in_worker, (inputs[i], config, queue)) for i in order}
            jobs = [submitted[i] for i in range(len(inputs))]
            while not all(job.ready() for job in jobs) or not queue.empty():
                try:
                    label = queue.get(timeout=0.2)
                except Empty:
                    continue
                if advance is not None:
                    advance(label)
            return [job.get() for job in jobs]
        finally:
            pool.terminate()
            pool.join()


# --- the whole run --------------------------------------------------------------------------------------------


def run_bench_to(
    inputs: Sequence[BenchInput],
    config: BenchConfig,
    out_dir: Path,
    workers: int = 1,
    progress_stream: TextIO | None = None,
) -> dict[str, Any]:
    """The whole bench: measure, then write results, plots, contact sheet and report into ``out_dir``."""
    from app.lab.contact_sheet import build_contact_sheet
    from app.lab.plots import plot_leakage, plot_tradeoff

    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)  # now: a folder that cannot be made fails before the long run
    progress = TextProgress(len(inputs) * len(config.filters) * len(config.strengths), progress_stream)
    try:
        results = run_grid(inputs, config, workers, progress)
    except BaseException:  # Ctrl-C or a failed run: no empty results folder left behind
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    document = write_results(out_dir, [row for r in results for row in r.rows], [r.confusion for r in results], config)
    plot_leakage(document["summary"], config.filters, out_dir / "leakage.png")
    plot_tradeoff(document["summary"], config.filters, out_dir / "tradeoff.png")
    sheet_rows = [
        (f"{r.name}\n{name}", [r.input_tile, *(r.tiles.get(cell_key(name, s)) for s in config.strengths)])
        for r in results
        for name in config.filters
    ]
    sheet = build_contact_sheet(sheet_rows, ["input", *(f"strength {s:g}" for s in config.strengths)])
    cv2.imwrite(str(out_dir / "contact_sheet.png"), sheet)
    write_report(out_dir, document)
    return document


# --- command line -------------------------------------------------------------------------------------------


def _parse_strengths(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"strengths must be numbers separated by commas, got {text!r}") from None
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"strengths must be between 0 and 1, got {text!r}")
    return tuple(sorted(set(values)))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


BENCH_HELP = "measure how much expression each filter lets through"
BENCH_DESCRIPTION = (
    "Run every filter at every strength on the inputs and write results.csv/json, plots, a contact sheet and a "
    "self-contained report.html to --out."
)


def configure_bench_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` arguments to ``parser``."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="videos, images, or folders of them")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the results")
    parser.add_argument(
        "--filters",
        default=None,
        help="comma-separated filters (default: every registered filter); options as NAME:OPTION=VALUE, "
        "e.g. neutralise:keep_speech=true, lists as a+b, mappings as a=0.5+b=1",
    )
    parser.add_argument(
        "--strengths",
        type=_parse_strengths,
        default=DEFAULT_STRENGTHS,
        help="comma-separated strengths 0..1 (default: 0,0.25,0.5,0.75,1)",
    )
    parser.add_argument("--reference", default="auto", help="auto, or a neutral image/saved reference (neutraliser)")
    parser.add_argument("--judge", default=None, metavar="PATH.onnx", help="expression classifier for a 2nd opinion")
    parser.add_argument("--workers", type=_positive_int, default=1, help="inputs measured in parallel (default 1)")
    parser.add_argument("--max-frames", type=_positive_int, default=None, help="at most N frames per input")
    parser.add_argument("--step", type=_positive_int, default=1, help="use every K-th frame (default 1)")
    parser.add_argument("--model", default=None, help="face_landmarker.task (default: $DEADPAN_MODEL or cache)")


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on a ``parser.add_subparsers()`` object (its handler is ``args.func = run_bench``)."""
    parser = subparsers.add_parser("bench", help=BENCH_HELP, description=BENCH_DESCRIPTION)
    configure_bench_parser(parser)
    parser.set_defaults(func=run_bench)
    return parser


def run_bench(args: argparse.Namespace) -> int:
    """The ``bench`` subcommand: 0 on success, 2 with a one-line message on bad input."""
    import filters
    from app.model_store import ModelError, resolve_model

    try:
        names = tuple(n.strip() for n in args.filters.split(",") if n.strip()) if args.filters else None
        names = names or tuple(filters.filter_names())
        for spec in names:
            parse_filter_spec(spec)  # unknown names and options fail here, before the long run
        if not names:
            raise BenchError("no filters are registered")
        inputs = discover_inputs(args.inputs)
        for item in inputs:  # an unreadable file fails now, in one line, not minutes into the run
            if next(read_input(item, max_frames=1), None) is None:
                raise BenchError(f"no frames could be read from {item.paths[0]}")
        if args.judge:
            ExpressionJudge(args.judge)  # fail before the long run, not in a worker
        model_path = str(resolve_model(args.model))
        config = BenchConfig(
            filters=names,
            strengths=tuple(args.strengths),
            model_path=model_path,
            judge_path=str(args.judge) if args.judge else None,
            reference=args.reference,
            max_frames=args.max_frames,
            step=args.step,
        )
        if config.reference != "auto":
            load_reference(config.reference, model_path)
        document = run_bench_to(inputs, config, Path(args.out), workers=args.workers)
    except (BenchError, JudgeError, ModelError, ValueError) as exc:
        print(f"deadpan bench: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. --out is a file, or the disk is full
        print(f"deadpan bench: cannot write the results to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndeadpan bench: interrupted; no results written", file=sys.stderr)
        return 130
    failed = [r for r in document["rows"] if r["error"]]
    for row in failed:
        cell = f"{row['input']} {row['filter']} {row['strength']:g}"
        print(f"deadpan bench: {cell} failed: {row['error']}", file=sys.stderr)
    print(f"wrote {args.out}/report.html ({len(document['rows'])} results)")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m app.lab.bench``) until the ``deadpan`` CLI registers the subcommand."""
    parser = argparse.ArgumentParser(prog="deadpan")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

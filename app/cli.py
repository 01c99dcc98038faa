"""``deadpan``: the desktop app (no arguments), or headless ``run`` / ``process`` / ``doctor`` / ``bench``.

Options shared between subcommands live in :mod:`app.options`. Subcommands are added either with
:func:`register_subcommand` here, or by a function in another module that adds its own parser to the
subparsers and sets ``func`` (listed in ``EXTENSION_PARSERS``; imported only when that command is used, so the
lab's heavy imports never slow down ``run``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.console import StatusLine
from app.options import (
    BACKENDS,
    OptionError,
    existing_file,
    filter_options_from,
    filter_parent,
    live_output_parent,
    live_source_parent,
    same_file,
    writable_output,
)

log = logging.getLogger(__name__)

# name -> (help, "module:function"); function(subparsers) adds the parser and sets defaults(func=handler).
EXTENSION_PARSERS: dict[str, tuple[str, str]] = {
    "bench": ("measure how much expression each filter lets through", "app.lab.bench:add_bench_parser"),
}


class OneLineParser(argparse.ArgumentParser):
    """A wrong option or value is one line on stderr and exit status 2 (no usage dump)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    with_filter_options: bool = False


_SUBCOMMANDS: dict[str, Subcommand] = {}


def register_subcommand(
    name: str,
    *,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    with_filter_options: bool = False,
) -> None:
    """Add ``deadpan NAME``. ``configure(parser)`` adds its arguments; ``run(args)`` returns the exit status.
    ``with_filter_options`` gives it the shared filter options (``--filter``, ``--strength``, ``--model``...)."""
    _SUBCOMMANDS[name] = Subcommand(name, help, configure, run, with_filter_options)


# --------------------------------------------------------------------------------------------- helpers
def fail(message: str, status: int = 2) -> int:
    print(f"deadpan: error: {message}", file=sys.stderr)
    return status


def pipeline_settings(args: argparse.Namespace):
    from app.pipeline import PipelineSettings

    options = filter_options_from(args)
    if options.get("reference") not in (None, "auto"):  # --reference: "saved", a saved profile or a photo
        from app.neutral_reference import load_reference

        options["reference"] = load_reference(options["reference"], args.model)
    return PipelineSettings(
        filter_name=args.filter,
        strength=args.strength,
        filter_options=options,
        max_faces=args.faces,
        on_face_lost=args.on_face_lost,
    )


def resolve_model_path(args: argparse.Namespace) -> Path:
    from app.model_store import resolve_model

    line = StatusLine()

    def show(done: int, total: int) -> None:
        if total:
            line.update(f"downloading the face model: {100 * done // total:3d}%")

    try:
        return resolve_model(args.model, progress=show)
    finally:
        line.end()


class ProgressBar:
    """``[#####-----] 120/354 frames  65.3 fps`` on stderr, redrawn at most 10 times a second (a line every
    10 s in a log, see :class:`StatusLine`)."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.line = StatusLine(stream)
        self.started = self._drawn_at = time.perf_counter()

    def __call__(self, done: int, total: int | None, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        fps = done / (now - self.started) if now > self.started else 0.0
        if total:
            filled = round(30 * min(done, total) / total)
            bar = f"[{'#' * filled}{'-' * (30 - filled)}] {done}/{total}"
        else:
            bar = f"{done}"
        text = f"{self.label} {bar} frames {fps:6.1f} fps"
        if force:  # the last figures stay, in a log too
            self.line.say(text)
        else:
            self.line.update(text)

    def finish(self, done: int, total: int | None) -> None:
        self(done, total, force=True)

    def end_line(self) -> None:
        """Leave the bar's line, so what is printed next starts on its own."""
        self.line.end()


# ------------------------------------------------------------------------------------------------- run
def configure_run(parser: argparse.ArgumentParser) -> None:
    """``run`` has only the shared options (source, filter, output)."""


def open_live_source(args: argparse.Namespace):
    from app.sources import CameraSource, ImageSource, VideoFileSource
    from app.sources.image import IMAGE_SUFFIXES

    if args.input is not None:
        if args.width is not None or args.height is not None:
            raise OptionError("--width and --height apply to a camera only (a file plays at its own size)")
        if args.input.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSource(args.input, realtime=True, fps=args.fps or 30.0)
        return VideoFileSource(args.input, realtime=True, loop=args.loop)
    if args.loop:
        raise OptionError("--loop applies to --input only")
    camera = args.camera if args.camera is not None else "0"
    device: int | str = int(camera) if str(camera).isdigit() else camera
    return CameraSource(device, width=args.width or 1280, height=args.height or 720, fps=args.fps or 30.0)


def open_live_output(args: argparse.Namespace):
    from app.sinks import VideoFileSink, VirtualCameraSink, video_name_problem

    if args.output == "vcam":
        from pyvirtualcam.camera import BACKENDS as REGISTERED_BACKENDS

        known = ("auto", *REGISTERED_BACKENDS)
        if args.backend not in known:  # checked here, not after the pipeline started and the camera opened
            choose = f"choose one of: {', '.join(known)}"
            if args.backend in BACKENDS:  # pyvirtualcam's, for another system (OBS and Unity Capture: not Linux)
                raise OptionError(f"the {args.backend} virtual camera is not available on {sys.platform}; {choose}")
            raise OptionError(f"unknown virtual camera backend {args.backend!r}; {choose}")
        return VirtualCameraSink(backend=args.backend, device=args.device)
    path = writable_output(args.output)  # raises ArgumentTypeError with a one-line reason
    if args.input is not None and same_file(path, args.input):  # the recording would be lost when the run ends
        raise OptionError("the output would overwrite the input; choose another name")
    problem = video_name_problem(path)
    if problem:  # said now, not after the camera and the model have been opened
        raise OptionError(problem)
    return VideoFileSink(path)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event, signals: Sequence[int] = (signal.SIGINT,)):
    """While inside: Ctrl-C (and the other ``signals``) set ``stop``; a second Ctrl-C interrupts at once.

    Not a KeyboardInterrupt at any moment: raised inside ``Thread.join`` (Python 3.11), it can mark a still-running
    pipeline thread as finished, and the shutdown then closes the tracker and the output under that thread (the
    likely cause of one CI run hanging on Ctrl-C). The loops check ``stop`` between frames instead. Handlers can
    only be set from the main thread; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, _frame) -> None:
        stop.set()
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_live(args: argparse.Namespace) -> int:
    from app.model_store import ModelError
    from app.pipeline import Pipeline
    from app.sinks import SinkError
    from app.sources import SourceError

    try:
        settings = pipeline_settings(args)
        source = open_live_source(args)
        sink = open_live_output(args)
    except (OptionError, ValueError, argparse.ArgumentTypeError, SourceError) as exc:
        return fail(str(exc))

    try:
        model = resolve_model_path(args)
        pipeline = Pipeline(source, [sink], settings, model_path=model, fps=args.fps)
    except ModelError as exc:
        return fail(str(exc), 2 if args.model else 1)  # a --model that is not a model is a wrong value
    except ValueError as exc:  # a filter option the filter refuses (e.g. an unknown region)
        return fail(str(exc))
    except OSError as exc:
        return fail(str(exc), 1)
    first_frame = threading.Event()
    line = StatusLine()
    # Until the output has opened, the newest status is held back: an output that cannot open is said once, as
    # the error, not first inside a status line ("1 face covered; output … failed (…), retrying").
    held: list = []
    opening = True
    status_lock = threading.Lock()

    def on_status(status) -> None:  # the engine's words say the state ("face lost: …"); its name is for code
        with status_lock:
            if opening:
                held[:] = [status]
            else:
                line.say(f"deadpan: {status.message}")

    def output_opened() -> None:
        nonlocal opening
        with status_lock:
            line.say(f"deadpan: sending to {sink.device} (Ctrl-C stops)")
            opening = False
            for status in held:
                line.say(f"deadpan: {status.message}")

    def on_stats(snapshot) -> None:
        line.update(snapshot.line())

    def on_first_frame(_result) -> None:  # the sink opens at the first frame: only then is its name known
        pipeline.events.frame.disconnect(on_first_frame)
        first_frame.set()

    def quiet() -> None:  # before an error: end the live line, and no "stopped" line after the error
        pipeline.events.status.disconnect(on_status)
        pipeline.events.stats.disconnect(on_stats)
        line.end()

    pipeline.events.status.connect(on_status)
    pipeline.events.stats.connect(on_stats)
    pipeline.events.frame.connect(on_first_frame)
    stop = threading.Event()
    with _stop_on_signals(stop, (signal.SIGINT, signal.SIGTERM)):
        try:
            pipeline.start()
            opening_ends = time.monotonic() + 15.0
            while not stop.is_set() and not first_frame.wait(0.1) and time.monotonic() < opening_ends:
                pass
            if pipeline.sink_errors:  # the output cannot open at all: say why instead of retrying forever
                quiet()
                pipeline.stop()
                return fail(pipeline.sink_errors[0], 1)
            if not stop.is_set():
                output_opened()
            while not stop.is_set() and not pipeline.wait(0.2):
                pass
        except SourceError as exc:  # the camera or file given cannot be read: a wrong value, like a bad option
            quiet()
            return fail(str(exc))
        except SinkError as exc:
            quiet()
            return fail(str(exc), 1)
        finally:
            pipeline.events.stats.disconnect(on_stats)
            pipeline.events.status.disconnect(on_status)  # its "stopped" would repeat the line below
            pipeline.stop()
    line.say(f"deadpan: stopped. {pipeline.stats().line()}")
    return 0


# --------------------------------------------------------------------------------------------- process
def configure_process(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=existing_file, metavar="INPUT", help="a video or image file")
    parser.add_argument("-o", "--output", required=True, type=writable_output, metavar="OUTPUT", help="where to write")
    parser.add_argument(
        "--stats", type=writable_output, default=None, metavar="FILE.json", help="write per-stage timings"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_process(args: argparse.Namespace) -> int:
    from app.pipeline.offline import is_image_path, process_image, process_video
    from app.sinks import VIDEO_SUFFIXES, video_name_problem

    if same_file(args.output, args.input):
        return fail("the output would overwrite the input; choose another name")
    for other, name in ((args.input, "input"), (args.output, "output")):
        if args.stats is not None and same_file(args.stats, other):
            return fail(f"--stats would overwrite the {name}; give the timings a name of their own (e.g. stats.json)")
    if is_image_path(args.input) != is_image_path(args.output):
        if is_image_path(args.input):
            return fail("the input is an image: give an image name for the output, e.g. out.png or out.jpg")
        return fail(f"the input is a video: give a video name for the output, ending in {', '.join(VIDEO_SUFFIXES)}")
    problem = None if is_image_path(args.output) else video_name_problem(args.output)
    if problem:
        return fail(problem)
    try:
        settings = pipeline_settings(args)
    except (OptionError, ValueError) as exc:
        return fail(str(exc))
    from app.model_store import ModelError
    from app.sinks import SinkError
    from app.sources import SourceError

    bar = None if args.no_progress else ProgressBar("processing")
    cancel = threading.Event()  # Ctrl-C: the frame loop stops between frames
    with _stop_on_signals(cancel):
        try:
            model = resolve_model_path(args)
            if is_image_path(args.input):
                report = process_image(args.input, args.output, settings, model_path=model)
            else:
                report = process_video(args.input, args.output, settings, model_path=model, progress=bar, cancel=cancel)
        except KeyboardInterrupt:
            if bar is not None:
                bar.end_line()
            return fail("interrupted; nothing written", 130)
        except ModelError as exc:
            return fail(str(exc), 2 if args.model else 1)  # a --model that is not a model is a wrong value
        except (SourceError, ValueError) as exc:  # the input file or an option value is unusable
            if bar is not None:
                bar.end_line()
            return fail(str(exc))
        except (SinkError, OSError) as exc:
            if bar is not None:
                bar.end_line()
            return fail(str(exc), 1)
    if bar is not None:
        bar.finish(report.frames, report.frames)
    if args.stats is not None:
        temporary = args.stats.with_name(f".{args.stats.name}.partial")
        temporary.write_text(json.dumps(report.as_dict(), indent=2))
        temporary.replace(args.stats)
    print(f"deadpan: wrote {args.output} ({_outcome(report, args.on_face_lost)})", file=sys.stderr)
    return 0


# What the output shows where no face was usable (what --on-face-lost chose; "hold" obscures until a good frame).
_FALLBACK_WORDS = {"obscure": "obscured whole", "hold": "the last good frame, else obscured", "card": "a card"}


def _outcome(report, on_face_lost: str) -> str:
    """Size and frame count, and how many frames had no usable face (so fell back): a tester reading "wrote"
    should not have to open the file to learn that the face was never found."""
    size = f"{report.width}x{report.height}"
    missed = report.frames - report.states.get("face_found", 0)
    if report.frames == 1:
        still = "a card" if on_face_lost == "card" else "obscured whole"  # a still has no good frame to hold
        return f"{size}; no face found: the picture is {still}" if missed else size
    text = f"{report.frames} frames, {size}, {report.fps:.1f} fps"
    if report.sound == "kept":
        text += ", with its sound"
    elif report.sound.startswith("not kept"):
        text += f"; the sound was {report.sound} (the picture is complete)"
    fallback = _FALLBACK_WORDS.get(on_face_lost, on_face_lost)
    return f"{text}; {missed} of them without a usable face: {fallback}" if missed else text


# ---------------------------------------------------------------------------------------------- doctor
def configure_doctor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=existing_file, default=None, metavar="PATH", help="check this model file")


def run_doctor(args: argparse.Namespace) -> int:
    from app.doctor import format_findings, run_checks

    findings = run_checks(model=str(args.model) if args.model else None)
    print(format_findings(findings))
    return 0 if all(f.ok for f in findings) else 1


register_subcommand(
    "run",
    help="live, headless: camera or file -> filter -> virtual camera or file",
    configure=configure_run,
    run=run_live,
    with_filter_options=True,
)
register_subcommand(
    "process",
    help="offline: filter every frame of a video or an image",
    configure=configure_process,
    run=run_process,
    with_filter_options=True,
)
register_subcommand(
    "doctor", help="check the model, cameras and virtual-camera backends", configure=configure_doctor, run=run_doctor
)


# ------------------------------------------------------------------------------------------------ main
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser. ``command``: the subcommand about to run (its extension module is imported only then)."""
    parser = OneLineParser(
        prog="deadpan",
        description=(
            "A poker face for video calls. No arguments: the desktop app "
            "(deadpan --source FILE opens it on a video file; also --settings PATH, --model PATH, --no-tray)."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    shared_filter = filter_parent()
    for sub in _SUBCOMMANDS.values():
        parents = [shared_filter] if sub.with_filter_options else []
        if sub.name == "run":
            parents = [live_source_parent(), *parents, live_output_parent()]
        child = commands.add_parser(sub.name, help=sub.help, description=sub.help, parents=parents)
        sub.configure(child)
        child.set_defaults(handler=sub.run)
    for name, (help_text, target) in EXTENSION_PARSERS.items():
        if name == command:
            module, function = target.split(":")
            getattr(importlib.import_module(module), function)(commands)
        else:  # listed in --help without importing it
            commands.add_parser(name, help=help_text, add_help=False)
    return parser


# The desktop app's own options (app.gui.main): ``deadpan --source FILE`` opens the window on a video file.
APP_OPTIONS = ("--source", "--settings", "--model", "--no-tray")


def is_app_launch(argv: Sequence[str]) -> bool:
    """No arguments, or the desktop app's options (not a command): the window, not the command line."""
    return not argv or argv[0].split("=", 1)[0] in APP_OPTIONS


def launch_app(argv: Sequence[str] = ()) -> int:
    no_display = not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))
    if sys.platform.startswith("linux") and no_display:  # Qt would abort with a page of plugin errors
        return fail("no display found for the desktop app; use `deadpan run` or `deadpan process` here")
    try:
        from app.gui.main import main as gui_main
    except ImportError as exc:
        return fail(f"the desktop app is not available ({exc}); use `deadpan run` or `deadpan process`")
    return int(gui_main(list(argv)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The status line already says what went wrong; engine warnings would repeat it mid-line.
    logging.basicConfig(level=logging.ERROR, format="deadpan: %(message)s")
    if is_app_launch(argv):
        return launch_app(argv)
    args = build_parser(argv[0]).parse_args(argv)
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        return fail("choose a command: " + ", ".join(_SUBCOMMANDS))
    try:
        return int(handler(args) or 0)
    except argparse.ArgumentTypeError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:  # a command stopped part way has not done its work: not a success (0) to a script
        print(file=sys.stderr)
        return fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())

"""Start the desktop app: ``deadpan`` with no arguments (or ``python -m app.gui.main``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import app  # noqa: F401  (imports cv2 first and clears OpenCV's Qt plugin path before Qt starts)
from app.options import writable_output


def settings_file(text: str) -> Path:
    """``--settings``: a file name whose file, if there, holds settings. A damaged settings file in the app's own
    folder is set aside as ``.bad``; a file named here by mistake (a video, a letter) is not the app's to rename."""
    path = writable_output(text)
    if path.is_file():
        try:
            usable = isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
        except (OSError, UnicodeDecodeError, ValueError):
            usable = False
        if not usable:
            raise argparse.ArgumentTypeError(f"{text} is not a Deadpan settings file; give another file name")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deadpan", description="Deadpan: a poker face for video calls.")
    parser.add_argument("--source", help="camera index, /dev/videoN or a video file to use instead of the saved one")
    parser.add_argument("--model", help="path to face_landmarker.task (default: downloaded once and cached)")
    parser.add_argument(
        "--settings", type=settings_file, help="settings file to use (default: in your user config folder)"
    )
    parser.add_argument("--no-tray", action="store_true", help="do not show a tray icon")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.icons import app_icon
    from app.gui.main_window import MainWindow
    from app.gui.model_download import ensure_model
    from app.session import Session
    from app.settings_store import SettingsStore

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    qt_app.setApplicationName("Deadpan")
    qt_app.setApplicationDisplayName("Deadpan")
    qt_app.setDesktopFileName("deadpan")
    qt_app.setWindowIcon(app_icon())

    store = SettingsStore(args.settings)
    settings = store.load()
    if args.source:
        settings.camera = args.source
    model = ensure_model(None, args.model)
    if model is None:
        print("deadpan: no face model, nothing to do (run again to download it, or pass --model PATH)")
        return 1
    session = Session(settings, model_path=model)
    window = MainWindow(session, store, tray=not args.no_tray)
    if store.message:
        window.show_message(store.message)
    window.show()
    QTimer.singleShot(0, window.start)
    _close_on_signals(window)
    return qt_app.exec()


def _close_on_signals(window) -> None:
    """Ctrl-C in the terminal that started the app (SIGINT) and SIGTERM close the window the normal way: settings
    saved, camera and virtual camera released. Without this, Ctrl-C raised KeyboardInterrupt inside whatever slot
    was running and the app went on."""
    import signal

    from PySide6.QtCore import QTimer

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: window.close())
    # Python runs signal handlers only between bytecodes; Qt's loop runs in C++, so wake the interpreter now and
    # then (a no-op slot) so a signal is handled within a quarter of a second.
    heartbeat = QTimer(window)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)


if __name__ == "__main__":
    sys.exit(main())

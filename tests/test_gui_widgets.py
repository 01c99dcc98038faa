"""Smaller pieces of the app on their own: the newest-frame-only bridge, the split preview, the tray menu."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QPoint, Qt

from app.gui.bridge import SessionBridge
from app.gui.preview import SplitPreview, bgr_to_qimage
from app.gui.tray import Tray
from app.pipeline import FrameResult, Status
from app.session import Session
from app.settings_store import AppSettings

from .conftest import MODEL


def frame_result(index: int) -> FrameResult:
    image = np.full((48, 64, 3), index, np.uint8)
    return FrameResult(image, image, (), Status("face_found", "", 1), {}, 0.0, 0.0)


def test_bridge_hands_the_ui_only_the_newest_frame_never_a_queue(qtbot):
    session = Session(AppSettings(), model_path=MODEL)
    bridge = SessionBridge(session)
    delivered = []
    bridge.frame.connect(delivered.append)
    results = [frame_result(i) for i in range(50)]
    # The engine's thread emits 50 frames while the GUI thread is busy (not running its event loop).
    worker = threading.Thread(target=lambda: [session.events.frame.emit(r) for r in results])
    worker.start()
    worker.join()
    assert delivered == []  # nothing is delivered on the engine's thread
    qtbot.wait(50)
    assert delivered == [results[-1]] and bridge.frames_skipped == 49
    session.events.frame.emit(results[0])
    qtbot.waitUntil(lambda: len(delivered) == 2, timeout=1000)
    bridge.detach()
    session.events.frame.emit(results[1])
    qtbot.wait(50)
    assert len(delivered) == 2


def test_split_preview_divider_follows_drag_and_keys(qtbot):
    preview = SplitPreview()
    qtbot.addWidget(preview)
    preview.resize(640, 360)
    preview.show()
    assert "Starting" in preview.empty_text and not preview.has_picture()
    before = np.zeros((360, 640, 3), np.uint8)
    after = np.full((360, 640, 3), 255, np.uint8)
    before[:, :320, 2] = 255  # a red left half, so mirroring is visible
    preview.set_frames(before, after)
    assert preview.has_picture() and preview.empty_text == ""
    moves = []
    preview.split_changed.connect(moves.append)
    qtbot.mousePress(preview, Qt.MouseButton.LeftButton, pos=QPoint(320, 180))
    qtbot.mouseMove(preview, QPoint(160, 180))
    qtbot.mouseRelease(preview, Qt.MouseButton.LeftButton, pos=QPoint(160, 180))
    assert abs(preview.split - 0.25) < 0.01 and moves
    qtbot.keyClick(preview, Qt.Key.Key_Right)
    assert abs(preview.split - 0.30) < 0.01
    # What is drawn: left of the divider the raw image, right of it the output.
    shot = preview.grab().toImage()
    assert shot.pixelColor(40, 180).red() == 255 and shot.pixelColor(40, 180).green() == 0
    assert shot.pixelColor(600, 180).green() == 255
    preview.set_mirror(True)
    preview.set_frames(before, after)
    shot = preview.grab().toImage()
    assert shot.pixelColor(40, 180).red() == 0  # mirrored: the raw image's right half is now on the left


def test_bgr_to_qimage_keeps_colours_and_copies():
    frame = np.zeros((4, 6, 3), np.uint8)
    frame[..., 0] = 200  # blue in BGR
    image = bgr_to_qimage(frame)
    frame[...] = 0
    assert image.pixelColor(0, 0).blue() == 200 and image.pixelColor(0, 0).red() == 0


def test_tray_menu_drives_the_session(qtbot):
    session = Session(AppSettings(), model_path=MODEL)
    window = SplitPreview()
    qtbot.addWidget(window)
    tray = Tray(session, window)
    tray.panic_action.trigger()
    assert session.panic
    tray.refresh()
    assert tray.panic_action.isChecked()
    tray.camera_action.trigger()  # nothing to send yet: the session says so, nothing crashes
    qtbot.waitUntil(lambda: session.virtual_camera_state.state == "failed", timeout=5000)
    assert "first" in session.virtual_camera_state.message
    assert tray.camera_action.text() == "Start virtual camera"

"""The window's calm states: no camera, a virtual camera that cannot start, the first-run model download."""

from __future__ import annotations

import functools
import http.server
import threading

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.gui.model_download import ModelDownloadDialog, ensure_model
from app.model_store import verify_model
from app.settings_store import AppSettings
from app.sinks import VirtualCameraSink
from app.sources.listing import list_cameras

from .conftest import MODEL
from .gui_harness import CLIP, FACE_REGION, Recorder, clipped_labels, make_settings, make_window, start_window
from .helpers import read_frames
from .test_session import fake_sysfs


def test_no_camera_shows_a_friendly_empty_state_and_picks_up_a_plugged_camera(qtbot, tmp_path):
    sysfs = fake_sysfs(tmp_path / "video4linux", {})
    window, session, _store = make_window(
        tmp_path / "s.json",
        AppSettings(),
        list_cameras=lambda: list_cameras(sysfs_root=sysfs, dev_root=tmp_path / "dev"),
    )
    start_window(qtbot, window, session)
    qtbot.waitUntil(lambda: "No camera found" in window.preview.empty_text, timeout=5000)
    assert "Video file" in window.preview.empty_text
    assert not window.message_bar.isVisible()  # not an error
    assert window.camera_panel.camera_combo.currentText() == "No camera found"
    assert not window.camera_panel.camera_combo.isEnabled()
    assert window.status_bar.status_label.text() == "No camera"  # the status bar agrees (it said "Starting…")
    qtbot.waitUntil(lambda: not clipped_labels(window), timeout=2000)  # once the layout has settled
    fake_sysfs(sysfs, {2: "HD Pro Webcam C920"})
    window.camera_panel.poll_timer.setInterval(50)
    qtbot.waitUntil(lambda: window.camera_panel.camera_combo.findText("HD Pro Webcam C920") >= 0, timeout=3000)
    assert window.camera_panel.camera_combo.isEnabled()
    window.close()


def test_a_remembered_camera_that_is_gone_is_a_calm_message_in_the_preview(qtbot, tmp_path):
    window, session, _store = make_window(tmp_path / "s.json", make_settings(camera="/dev/video97"))
    start_window(qtbot, window, session)
    assert session.source_state.state == "failed" and not session.running
    qtbot.waitUntil(lambda: "Could not open" in window.preview.empty_text, timeout=5000)
    assert "Could not open /dev/video97" in window.preview.empty_text and "Video file" in window.preview.empty_text
    assert window.status_bar.status_label.text().startswith("No camera — Could not open /dev/video97")
    # The window's ways out are its own (another camera, "Video file…"), not the command line's.
    assert "--input" not in window.preview.empty_text and "--input" not in window.status_bar.status_label.text()
    assert session.set_source(str(make_settings().camera))  # the way out works
    qtbot.waitUntil(window.preview.has_picture, timeout=15000)
    window.close()


def test_virtual_camera_failure_shows_the_fix_in_the_window(qtbot, tmp_path):
    # The real sink with the platform's backends: no driver exists here, so it fails for real.
    window, session, _store = make_window(tmp_path / "s.json", make_settings(), virtual_camera=VirtualCameraSink)
    start_window(qtbot, window, session)
    panel = window.virtual_camera_panel
    qtbot.mouseClick(panel.toggle_button, Qt.MouseButton.LeftButton)
    assert session.virtual_camera_state.state == "starting"  # the driver and the doctor run off the GUI thread
    qtbot.waitUntil(lambda: session.virtual_camera_state.state == "failed", timeout=20000)
    qtbot.waitUntil(lambda: panel.findings_label.isVisibleTo(window), timeout=5000)
    assert not panel.toggle_button.isChecked() and panel.toggle_button.text() == "Start virtual camera"
    assert panel.findings_label.isVisibleTo(window)
    text = panel.findings_label.text()
    assert "What is wrong and how to fix it" in text and "Fix:" in text
    # Only what the virtual camera needs: the window runs on a clip here, so a missing webcam is no problem of it.
    assert "virtual camera" in text and "no camera found" not in text and "--input" not in text
    assert (
        "could not start" in panel.device_label.text()
        and "&#x27;" not in panel.device_label.text()
        and panel.sending_label.text() == "Not sending"
    )
    qtbot.waitUntil(lambda: not clipped_labels(window), timeout=2000)  # once the layout has settled
    window.close()


def test_virtual_camera_on_shows_what_to_choose_in_the_call(qtbot, tmp_path):
    window, session, _store = make_window(tmp_path / "s.json", make_settings())
    start_window(qtbot, window, session)
    panel = window.virtual_camera_panel
    assert panel.sending_label.text() == "Not sending"
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: session.virtual_camera_state.state == "on", timeout=10000)
    qtbot.waitUntil(lambda: "Deadpan Test Camera" in panel.device_label.text(), timeout=5000)
    assert window.windowTitle() == "Deadpan — sending to Deadpan Test Camera"
    assert "choose <b>Deadpan Test Camera</b> as your camera" in panel.device_label.text()
    qtbot.waitUntil(lambda: panel.sending_label.text() == "Sending to the call", timeout=15000)
    window.close()


@pytest.fixture
def model_server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(MODEL.parent))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{MODEL.name}"
    server.shutdown()
    server.server_close()


def test_first_run_downloads_the_model_with_progress(qtbot, tmp_path, model_server, monkeypatch):
    monkeypatch.delenv("DEADPAN_MODEL")
    dialog = ModelDownloadDialog(url=model_server, cache_dir=tmp_path)
    qtbot.addWidget(dialog)
    values = []
    dialog.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.show()
    assert dialog.model_path == tmp_path / "models" / MODEL.name
    verify_model(dialog.model_path)
    assert values[-1] == 100 and len(values) >= 3
    assert ensure_model(cache_dir=tmp_path, url="http://127.0.0.1:9/unused") == dialog.model_path  # no dialog now


def test_a_wrong_model_file_is_named_in_the_window_with_the_windows_own_ways_out(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    monkeypatch.delenv("DEADPAN_MODEL")
    seen = []

    def look_then_cancel():
        dialog = QApplication.activeModalWidget()
        seen.append(dialog.explanation.text())
        dialog.reject()

    QTimer.singleShot(500, look_then_cancel)
    assert ensure_model(explicit=CLIP, cache_dir=tmp_path, url="http://127.0.0.1:9/unused") is None
    assert f"{CLIP} is not a Face Landmarker model" in seen[0]
    # The command line's ways out do not belong here; the dialog offers Choose model file… and the download.
    assert "--model" not in seen[0] and "DEADPAN_MODEL" not in seen[0]


def test_offline_first_run_says_how_to_supply_the_file_and_can_be_cancelled(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("DEADPAN_MODEL")
    dialog = ModelDownloadDialog(url="http://127.0.0.1:9/face_landmarker.task", cache_dir=tmp_path)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.retry_button.isVisible, timeout=20000)
    text = dialog.detail.text()
    assert "could not download" in text and str(tmp_path / "models" / MODEL.name) in text
    assert "Choose model file" in text and "press Retry" in text
    # The way out is readable: the dialog grew to the error's text (it opened sized for "Connecting…") and no
    # label, the explanation above included, is squeezed into a clipped line or two.
    qtbot.waitUntil(lambda: not clipped_labels(dialog), timeout=2000)
    assert not dialog.use_file(tmp_path / "nothing.task") and "not found" in dialog.detail.text()
    qtbot.waitUntil(lambda: not clipped_labels(dialog), timeout=2000)
    assert dialog.use_file(MODEL) and dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.model_path == MODEL

    again = ModelDownloadDialog(url="http://127.0.0.1:9/face_landmarker.task", cache_dir=tmp_path)
    qtbot.addWidget(again)
    again.show()
    qtbot.mouseClick(again.cancel_button, Qt.MouseButton.LeftButton)
    assert again.result() == QDialog.DialogCode.Rejected and again.model_path is None
    assert not (tmp_path / "models" / MODEL.name).exists()


def test_face_lost_is_said_in_the_window_and_the_call_gets_an_obscured_frame(qtbot, tmp_path):
    # A clip whose face walks out of the picture: a second of the real face, then a second of empty frames.
    frames = read_frames(CLIP, max_frames=25)
    path = tmp_path / "leaves.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, frames[0].shape[1::-1])
    for frame in frames + [np.full_like(frames[0], 90)] * 25:
        writer.write(frame)
    writer.release()
    window, session, _store = make_window(tmp_path / "s.json", make_settings(camera=str(path), virtual_camera=True))
    recorder = Recorder(session)
    start_window(qtbot, window, session)
    status = window.status_bar
    qtbot.waitUntil(lambda: status.status_label.text().startswith("Face found"), timeout=15000)
    qtbot.waitUntil(lambda: status.status_label.text() == "Face lost: sending obscured frame", timeout=15000)
    assert status.faces_label.text() == "Faces: 0"
    qtbot.waitUntil(lambda: "fps" in status.stats_label.text() and "track" in status.stages_label.text(), timeout=5000)
    recorder.wait_sent(qtbot, 10)
    window.close()
    assert recorder.leaks() == []


def test_two_people_sharing_the_camera_are_obscured_until_faces_is_raised_then_each_is_filtered(qtbot, tmp_path):
    # The same person twice, side by side: two faces in view with the window set (by default) to filter one.
    frames = read_frames(CLIP, max_frames=50)
    path = tmp_path / "two.mp4"
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (2 * frames[0].shape[1], frames[0].shape[0])
    )
    for frame in frames:
        writer.write(np.ascontiguousarray(np.concatenate([frame, frame[:, ::-1]], axis=1)))
    writer.release()
    window, session, _store = make_window(tmp_path / "s.json", make_settings(camera=str(path), virtual_camera=True))
    recorder = Recorder(session)
    start_window(qtbot, window, session)
    status, spin = window.status_bar, window.filter_controls.faces_spin
    assert spin.value() == 1 and spin.maximum() == 4
    qtbot.waitUntil(lambda: "raise Faces under Filter" in status.status_label.text(), timeout=15000)  # the way out
    assert status.status_label.text().startswith("2 or more faces in view, filtering is set for 1")
    spin.setValue(2)
    qtbot.waitUntil(lambda: status.status_label.text() == "2 faces found", timeout=15000)
    assert session.settings.max_faces == 2
    recorder.wait_sent(qtbot, 10)
    recorder.check_sent_since(0)  # obscured whole while a face had no filter, filtered after: never raw
    assert recorder.leaks() == []
    sent_key, sent = recorder.sent_full[-1]
    raw = recorder.processed_for(sent_key).raw
    width = raw.shape[1] // 2
    for half in (slice(0, width), slice(width, 2 * width)):  # each person's face is blurred, not just one
        x0, y0, x1, y1 = (round(v * n) for v, n in zip(FACE_REGION, (width, raw.shape[0]) * 2))
        diff = np.abs(sent[:, half][y0:y1, x0:x1].astype(int) - raw[:, half][y0:y1, x0:x1].astype(int)).mean()
        assert diff > 6, diff
    window.close()


def test_a_long_status_never_widens_the_window_and_is_readable_in_full(qtbot, tmp_path):
    from app.pipeline.frames import Status

    window, session, _store = make_window(tmp_path / "s.json", make_settings())
    start_window(qtbot, window, session)
    window.resize(1000, 700)
    qtbot.waitUntil(lambda: window.width() == 1000)
    session.close()  # no frames now: the statuses below stay as shown
    qtbot.wait(100)
    message = "2 or more faces in view, filtering is set for 1: sending obscured frame"
    window.status_bar.show_status(Status("extra_face", message, 2))
    qtbot.wait(100)
    label = window.status_bar.status_label
    # The window kept its size (a status line as long as this one pushed it past the screen's edge), and the
    # whole text is there for the tooltip; it says where the way out is and repeats nothing.
    assert window.width() == 1000 and label.toolTip() == label.text()
    assert label.text().count("obscured frame") == 1 and "raise Faces under Filter" in label.text()
    window.status_bar.show_status(Status("error", "x" * 400))
    qtbot.wait(100)
    assert window.width() == 1000
    window.close()


def test_a_first_start_fits_the_screen(qtbot, tmp_path):
    # No saved size: the window opened at 1280x760 whatever the screen, so on a small laptop screen the controls
    # and the status line were off its edges. The offscreen screen here is 800x600.
    window, session, _store = make_window(tmp_path / "s.json", make_settings())
    start_window(qtbot, window, session)
    room = window.screen().availableGeometry()
    assert room.width() < 1280  # the test means something only on a screen smaller than the old default
    frame = window.frameGeometry()
    assert frame.width() <= room.width() and frame.height() <= room.height(), (frame, room)
    window.close()

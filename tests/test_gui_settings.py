"""Settings survive a restart of the real window; a corrupt settings file is survived with a visible message."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from app.settings_store import AppSettings

from .gui_harness import Recorder, make_settings, make_window, start_window


def test_settings_survive_a_restart(qtbot, tmp_path):
    path = tmp_path / "settings.json"
    window, session, store = make_window(path, make_settings())
    start_window(qtbot, window, session)
    window.resize(760, 540)  # within the offscreen screen (800x600): restoreGeometry clamps to it
    controls, camera = window.filter_controls, window.camera_panel
    controls.filter_combo.setCurrentIndex(controls.filter_combo.findData("pixelate"))
    controls.strength_slider.setValue(40)
    controls.filter_combo.setCurrentIndex(controls.filter_combo.findData("neutralise"))
    assert controls.neutraliser_box.isVisibleTo(window)
    controls.strength_slider.setValue(70)
    controls.region_checks["eyes"].setChecked(False)
    controls.keep_speech.setChecked(True)
    controls.keep_blinks.setChecked(False)
    controls.faces_spin.setValue(2)
    assert session.pipeline_settings().max_faces == 2
    camera.resolution_combo.setCurrentIndex(camera.resolution_combo.findData("640x480"))
    camera.resolution_combo.activated.emit(camera.resolution_combo.currentIndex())
    camera.fps_combo.setCurrentIndex(camera.fps_combo.findData(15))
    camera.fps_combo.activated.emit(camera.fps_combo.currentIndex())
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # shortcuts go to the active window
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)  # mirror on
    window.preview.set_split(0.25)
    window.close()

    saved = json.loads(path.read_text())
    assert saved["filter_name"] == "neutralise" and saved["strengths"] == {"pixelate": 0.4, "neutralise": 0.7}

    again, session2, store2 = make_window(path)  # a new window reads the file, as after a restart
    qtbot.addWidget(again)
    assert store2.message is None
    s = session2.settings
    assert (s.filter_name, s.width, s.height, s.fps, s.mirror, s.split) == ("neutralise", 640, 480, 15, True, 0.25)
    assert s.regions == ("brows", "mouth") and s.keep_speech and not s.keep_blinks
    assert s.camera == make_settings().camera
    c2 = again.filter_controls
    assert c2.filter_combo.currentData() == "neutralise" and c2.strength_slider.value() == 70
    assert c2.strength_value.text() == "70%"
    assert not c2.region_checks["eyes"].isChecked() and c2.region_checks["mouth"].isChecked()
    assert c2.keep_speech.isChecked() and not c2.keep_blinks.isChecked()
    assert s.max_faces == 2 and c2.faces_spin.value() == 2
    assert again.camera_panel.resolution_combo.currentData() == "640x480"
    assert again.camera_panel.fps_combo.currentData() == 15
    assert again.camera_panel.mirror_check.isChecked() and again.preview.mirror
    assert again.preview.split == 0.25
    assert (again.width(), again.height()) == (760, 540)
    c2.filter_combo.setCurrentIndex(c2.filter_combo.findData("pixelate"))
    assert c2.strength_slider.value() == 40  # each filter keeps its own strength
    again.close()


def test_corrupt_settings_file_is_survived_with_a_visible_message(qtbot, tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"filter_name": "blur", "strengths": {"blur": 0.5')  # cut off mid-write by a crash
    window, session, store = make_window(path)
    assert session.settings.filter_name == AppSettings().filter_name
    if store.message:  # exactly what app.gui.main does
        window.show_message(store.message)
    qtbot.addWidget(window)
    window.show()
    assert window.message_bar.isVisible()
    assert "defaults" in window.message_label.text() and "settings.json.bad" in window.message_label.text()
    assert (tmp_path / "settings.json.bad").exists()
    # The app works on defaults: choose the clip and frames flow.
    recorder = Recorder(session)
    start_window(qtbot, window, session)
    assert session.set_source(str(make_settings().camera))
    qtbot.waitUntil(lambda: window.preview.frames_shown > 3, timeout=15000)
    assert recorder.raw_thumbs
    qtbot.mouseClick(window.message_close, Qt.MouseButton.LeftButton)
    assert not window.message_bar.isVisible()
    window.close()
    assert json.loads(path.read_text())["camera"] == str(make_settings().camera)  # and a valid file again

"""The neutraliser's per-region strength sliders in the real window: they reach the running filter, follow
their region's on/off box, never let a raw frame reach the call, and are remembered across a restart."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from .gui_harness import Recorder, make_settings, make_window, start_window, wait_for_face

FULL = {"brows": 1.0, "eyes": 1.0, "mouth": 1.0}


def test_region_sliders_drive_the_running_neutraliser_and_survive_a_restart(qtbot, tmp_path):
    path = tmp_path / "settings.json"
    window, session, _store = make_window(path, make_settings(filter_name="neutralise", virtual_camera=True))
    recorder = Recorder(session)
    start_window(qtbot, window, session)
    wait_for_face(qtbot, session)
    recorder.wait_sent(qtbot, 3)
    mark = recorder.drain()
    controls = window.filter_controls
    sliders, checks, values = controls.region_sliders, controls.region_checks, controls.region_values
    assert controls.neutraliser_box.isVisibleTo(window)
    for region, slider in sliders.items():
        assert slider.isVisibleTo(window) and slider.isEnabled() and slider.value() == 100
        assert slider.accessibleName() == f"{region.capitalize()} strength" and region in slider.toolTip().lower()
        assert values[region].text() == "100%"
    assert session.pipeline.filter.gains == FULL
    first_filter = session.pipeline.filter

    sliders["mouth"].setValue(40)  # as a drag ends
    sliders["brows"].setFocus()
    qtbot.keyClick(sliders["brows"], Qt.Key.Key_PageDown)  # the keyboard moves it a page (10%)
    wanted = {"brows": 0.9, "eyes": 1.0, "mouth": 0.4}
    assert values["mouth"].text() == "40%" and values["brows"].text() == "90%"
    assert session.settings.region_strength == wanted
    assert session.pipeline.settings.filter_options["region_strength"] == wanted
    recorder.wait_sent(qtbot, 4)  # frames went through since: the rebuilt filter is the one running
    assert session.pipeline.filter.gains == wanted and session.pipeline.filter is not first_filter

    checks["eyes"].setChecked(False)  # a region switched off: its slider cannot be moved, its value is kept
    assert not sliders["eyes"].isEnabled() and sliders["eyes"].value() == 100
    recorder.wait_sent(qtbot, 4)
    assert session.pipeline.filter.gains == {**wanted, "eyes": 0.0}
    checks["eyes"].setChecked(True)
    assert sliders["eyes"].isEnabled()
    sliders["eyes"].setValue(0)
    checks["eyes"].setChecked(False)
    recorder.wait_sent(qtbot, 4)

    # Every frame sent meanwhile came out of the engine's filter or its obscuring fallback, never the camera.
    recorder.check_sent_since(mark)
    assert len(recorder.sent) - mark >= 12
    window.close()

    saved = {"brows": 0.9, "eyes": 0.0, "mouth": 0.4}
    assert json.loads(path.read_text())["region_strength"] == saved
    again, session2, store2 = make_window(path)  # a new window reads the file, as after a restart
    qtbot.addWidget(again)
    assert store2.message is None and session2.settings.region_strength == saved
    assert session2.filter_options("neutralise")["region_strength"] == saved
    c2 = again.filter_controls
    assert [c2.region_sliders[r].value() for r in ("brows", "eyes", "mouth")] == [90, 0, 40]
    assert c2.region_values["mouth"].text() == "40%" and c2.region_values["eyes"].text() == "0%"
    assert not c2.region_checks["eyes"].isChecked() and not c2.region_sliders["eyes"].isEnabled()
    assert c2.region_sliders["brows"].isEnabled()
    again.close()

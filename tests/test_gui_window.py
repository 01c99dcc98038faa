"""The real main window, driven like a user would, with a real clip as the camera and the real engine."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer

from app.tracking import IMAGE, FaceTracker
from filters import create_filter

from .conftest import MODEL
from .gui_harness import (
    OTHER_CLIP,
    Recorder,
    detail,
    make_settings,
    make_window,
    settle,
    start_window,
    thumb,
    wait_for_face,
)


@pytest.fixture
def running_window(qtbot, tmp_path):
    window, session, store = make_window(tmp_path / "settings.json", make_settings())
    recorder = Recorder(session)
    start_window(qtbot, window, session)
    yield window, session, recorder
    window.close()


def start_sending(qtbot, window, session, recorder) -> None:
    qtbot.mouseClick(window.virtual_camera_panel.toggle_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: session.virtual_camera_state.state == "on", timeout=10000)
    recorder.wait_sent(qtbot, 5)
    wait_for_face(qtbot, session)


def classify(recorder: Recorder, sent_key: bytes, candidates: dict[str, tuple[str, float]]) -> str | None:
    """Which filter setting produced this sent frame: re-apply each candidate to the raw frame it came from
    (with the faces the engine used) and pick the nearest. ``None`` if the sent frame has no recorded source."""
    processed = recorder.processed_for(sent_key)
    # Read once: the recorder drops old entries' full frames from the engine's thread as new ones arrive.
    raw = None if processed is None else processed.raw
    if raw is None or processed.state != "face_found":
        return None
    sent = next(frame for k, frame in recorder.sent_full if k == sent_key)
    distances = {}
    for label, (name, strength) in candidates.items():
        expected = create_filter(name, strength).apply(raw.copy(), processed.faces)
        distances[label] = float(np.abs(expected.astype(np.int16) - sent).mean())
    return min(distances, key=distances.get)


def classified_after(recorder: Recorder, start: int, candidates) -> list[str]:
    keys = [k for k, _t, _at in recorder.sent[start:]]
    return [label for label in (classify(recorder, k, candidates) for k in keys) if label is not None]


def test_filter_picker_and_slider_change_what_the_call_receives(qtbot, running_window):
    window, session, recorder = running_window
    start_sending(qtbot, window, session, recorder)
    controls = window.filter_controls
    candidates = {"blur": ("blur", 1.0), "pixelate": ("pixelate", 1.0), "blur30": ("blur", 0.3)}

    recorder.wait_sent(qtbot, 8)
    mark = len(recorder.sent)
    assert set(classified_after(recorder, mark - 6, candidates)) == {"blur"}

    controls.filter_combo.setCurrentIndex(controls.filter_combo.findData("pixelate"))
    assert session.settings.filter_name == "pixelate"
    assert not controls.neutraliser_box.isVisibleTo(window)
    mark = recorder.drain()
    recorder.wait_sent(qtbot, 10)
    labels = classified_after(recorder, mark + 1, candidates)  # +1: a frame may have been in flight
    assert len(labels) >= 5 and set(labels) == {"pixelate"}, labels

    controls.filter_combo.setCurrentIndex(controls.filter_combo.findData("blur"))
    controls.strength_slider.setValue(30)
    assert controls.strength_value.text() == "30%"
    assert session.strength == pytest.approx(0.3)
    mark = recorder.drain()
    recorder.wait_sent(qtbot, 10)
    labels = classified_after(recorder, mark + 1, candidates)
    assert len(labels) >= 5 and set(labels) == {"blur30"}, labels
    assert recorder.leaks() == []
    assert window.preview.frames_shown > 10 and window.virtual_camera_panel.sending


def test_panic_key_obscures_the_very_next_sent_frame_and_back(qtbot, running_window):
    window, session, recorder = running_window
    start_sending(qtbot, window, session, recorder)
    recorder.wait_sent(qtbot, 5)
    normal_detail = np.median([detail(f) for _k, f in list(recorder.sent_full)[-5:]])

    qtbot.keyClick(window, Qt.Key.Key_F12)
    assert session.panic and window.panic_button.isChecked()
    mark = recorder.drain()
    recorder.wait_sent(qtbot, 8)
    after = [frame for k, frame in recorder.sent_full if k in {s[0] for s in recorder.sent[mark:]}]
    assert len(after) >= 8
    # Fully obscured from the very first frame sent after the key press: nothing fine is left anywhere in the
    # frame, and the real face tracker cannot find a face in it.
    details = [detail(f) for f in after]
    assert max(details) < 0.2 * normal_detail, (details, normal_detail)
    with FaceTracker(MODEL, mode=IMAGE) as tracker:
        assert all(tracker.track(f) == [] for f in (after[0], after[len(after) // 2], after[-1]))
    qtbot.waitUntil(lambda: "Panic" in window.status_bar.status_label.text(), timeout=3000)

    qtbot.mouseClick(window.panic_button, Qt.MouseButton.LeftButton)  # the button turns it off again
    assert not session.panic
    wait_for_face(qtbot, session)
    mark = recorder.drain()
    recorder.wait_sent(qtbot, 5)
    assert np.median([detail(f) for _k, f in list(recorder.sent_full)[-3:]]) > 0.3 * normal_detail
    assert recorder.leaks() == []


def test_nothing_raw_is_sent_through_start_up_and_every_switch(qtbot, tmp_path):
    # The virtual camera is on from the first frame (remembered from last time), then filters and the camera
    # are switched while frames flow: no sent frame may carry a raw face.
    window, session, _store = make_window(tmp_path / "s.json", make_settings(virtual_camera=True))
    recorder = Recorder(session)
    start_window(qtbot, window, session)
    assert session.virtual_camera_state.state == "on"
    recorder.wait_sent(qtbot, 3)
    combo = window.filter_controls.filter_combo
    for name in ("pixelate", "mask", "blur", "pixelate"):
        combo.setCurrentIndex(combo.findData(name))
        recorder.wait_sent(qtbot, 3)
    assert session.set_source(str(OTHER_CLIP))
    recorder.wait_sent(qtbot, 6)
    assert session.set_source("/nonexistent/video.mp4") is False  # a failed switch keeps the working source
    assert window.message_bar.isVisibleTo(window) and "video.mp4" in window.message_label.text()
    recorder.wait_sent(qtbot, 4)
    qtbot.mouseClick(window.virtual_camera_panel.toggle_button, Qt.MouseButton.LeftButton)
    assert session.virtual_camera_state.state == "off"
    qtbot.mouseClick(window.virtual_camera_panel.toggle_button, Qt.MouseButton.LeftButton)
    recorder.wait_sent(qtbot, 4)
    window.close()
    assert len(recorder.sent) >= 25 and len(recorder.raw_thumbs) >= 25
    assert recorder.leaks() == []


def test_gui_thread_never_blocks_while_frames_flow(qtbot, running_window):
    """A 5 ms QTimer heartbeat on the GUI thread while frames flow (and a filter is switched). For each interval
    between two beats it records the wall time and the GUI thread's own CPU time (``thread_time``).

    CPU time is what our code spends on the GUI thread, so no interval may hold more than 50 ms of it. Wall-clock
    gaps also include the OS giving the core to other processes: on the shared 2-core development machine (load
    average ~14) a bare Python loop with no Qt and no engine sees gaps of 75-300 ms. So on a machine that is not
    overloaded 99% of the wall gaps must stay under 50 ms and none may reach 250 ms (a clean CI run on 2 cores
    once showed a single 109 ms gap among ~960 beats with the GUI thread's own work at most 3.6 ms: the OS, not
    our code); on an overloaded one, 90% of them (and all CPU stretches)."""
    window, session, recorder = running_window
    start_sending(qtbot, window, session, recorder)
    wall: list[float] = []
    cpu: list[float] = []

    def beat() -> None:
        wall.append(time.monotonic())
        cpu.append(time.thread_time())

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    shown_before = window.preview.frames_shown
    heartbeat.start()
    settle(qtbot, 3.0)
    combo = window.filter_controls.filter_combo
    combo.setCurrentIndex(combo.findData("pixelate"))  # a filter switch while measuring, too
    window.filter_controls.strength_slider.setValue(60)
    session.set_source(str(OTHER_CLIP), wait=False)  # and a camera switch, as the camera picker makes it
    settle(qtbot, 2.0)
    assert session.source_state.spec == str(OTHER_CLIP)
    heartbeat.stop()
    wall_gaps = np.diff(wall) * 1000
    busy = np.diff(cpu) * 1000
    print(
        f"heartbeat: {len(wall)} beats; GUI-thread CPU per interval max {busy.max():.1f} ms; wall gaps p50 "
        f"{np.median(wall_gaps):.1f} p99 {np.percentile(wall_gaps, 99):.1f} max {wall_gaps.max():.0f} ms; "
        f"{window.preview.frames_shown - shown_before} frames shown, {window.bridge.frames_skipped} skipped"
    )
    assert len(wall) > 200
    assert busy.max() < 50, f"the GUI thread was busy for {busy.max():.0f} ms at a stretch"
    overloaded = os.getloadavg()[0] > (os.cpu_count() or 1)
    assert np.percentile(wall_gaps, 90 if overloaded else 99) < 50
    assert overloaded or wall_gaps.max() < 250, "the GUI froze"
    assert window.preview.frames_shown - shown_before > 30  # frames really flowed meanwhile


def test_mirror_flips_only_the_preview(qtbot, running_window):
    window, session, recorder = running_window
    start_sending(qtbot, window, session, recorder)
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert session.settings.mirror and window.preview.mirror
    start = recorder.drain()

    def latest_with_source():
        """The newest frame sent since the toggle that the engine produced from a recorded raw frame. On a busy
        machine the looping file source stalls and the engine repeats its last output (a keep-alive it does not
        report as processed), so the newest sent frame may have no source."""
        recorder.drain()
        for sent_key, _thumb, _at in reversed(recorder.sent[start:]):
            processed = recorder.processed_for(sent_key)
            raw = None if processed is None else processed.raw  # read once: dropped from the engine's thread
            if raw is not None:
                return sent_key, raw
        return None

    qtbot.waitUntil(lambda: recorder.drain() >= start + 3 and latest_with_source() is not None, timeout=15000)
    sent_key, raw = latest_with_source()
    sent = next(f for k, f in recorder.sent_full if k == sent_key)
    # The call's frame is the filtered raw frame the right way round: closer to the raw than to its mirror.
    assert np.abs(thumb(sent) - thumb(raw)).mean() < np.abs(thumb(sent) - thumb(raw[:, ::-1])).mean()

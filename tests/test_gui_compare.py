"""The compare view in the real window: a real clip as the camera, the real engine, the real virtual camera class."""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer

from .gui_harness import Recorder, clipped_labels, make_settings, make_window, settle, start_window, wait_for_face
from .test_gui_window import classified_after, start_sending


def choose(side, filter_name: str, strength_percent: int) -> None:
    """Pick a filter and a strength on one side of the compare view, as the user does."""
    side.filter_combo.setCurrentIndex(side.filter_combo.findData(filter_name))
    side.strength_slider.setValue(strength_percent)


def gui_thread_busy_ms(qtbot, seconds: float) -> np.ndarray:
    """CPU time the GUI thread spent between beats of a 5 ms timer (wall gaps on this shared machine also hold
    other processes' turns: see test_gui_window's heartbeat test)."""
    cpu: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(lambda: cpu.append(time.thread_time()))
    heartbeat.start()
    settle(qtbot, seconds)
    heartbeat.stop()
    assert len(cpu) > 50
    return np.diff(cpu) * 1000


def test_compare_view_shows_live_figures_and_the_call_keeps_the_main_filter(qtbot, tmp_path, artifacts_dir):
    window, session, _store = make_window(tmp_path / "settings.json", make_settings(filter_name="pixelate"))
    recorder = Recorder(session)
    start_window(qtbot, window, session)
    try:
        start_sending(qtbot, window, session, recorder)
        qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        view = window.compare_view
        assert view is not None and view.isVisible()
        assert "nothing in this window is sent" in view.notice.text() and "Pixelate face" in view.notice.text()
        # By default the left side shows what the call gets now.
        assert view.left.filter_combo.currentData() == "pixelate" and view.left.strength_slider.value() == 100

        choose(view.left, "blur", 100)
        choose(view.right, "blur", 0)
        assert view.right.strength_value.text() == "0%"
        assert view.comparison.settings["right"].strength == 0.0

        def measured(panel, samples: int = 6) -> bool:
            figures = panel.figures
            return figures is not None and figures.samples >= samples and not math.isnan(figures.face_kept)

        qtbot.waitUntil(
            lambda: (
                measured(view.left.figures_panel)
                and measured(view.right.figures_panel)
                and view.right.figures_panel.figures.ready
            ),
            timeout=40000,
        )
        qtbot.waitUntil(lambda: not math.isnan(view.right.figures_panel.figures.leakage), timeout=20000)
        blurred, untouched = view.left.figures_panel.figures, view.right.figures_panel.figures
        print(
            f"compare: blur 100% leakage {blurred.leakage:.2f} face kept {blurred.face_kept:.2f} "
            f"({blurred.samples} samples, {blurred.ms_per_frame:.1f} ms); blur 0% leakage {untouched.leakage:.2f} "
            f"face kept {untouched.face_kept:.2f}; {view.results_shown} results shown, "
            f"{view.comparison.frames_dropped} frames skipped"
        )
        assert blurred.settings.filter_name == "blur" and blurred.settings.strength == 1.0
        assert untouched.settings.strength == 0.0
        # The figures differ in the expected direction: strength 0 lets everything through, full blur nothing.
        assert untouched.leakage > 0.9 and untouched.face_kept == 1.0
        assert blurred.leakage < 0.3 or blurred.face_kept < 0.2
        assert (
            "%" in view.left.figures_panel.leakage_label.text() and "%" in view.right.figures_panel.leakage_label.text()
        )
        assert "Face kept 100%" in view.right.figures_panel.detail_label.text()
        assert clipped_labels(view) == []
        assert view.left.preview.has_picture() and view.right.preview.frames_shown > 5

        # The GUI thread only paints: it never spends 50 ms at a stretch while both sides update.
        busy = gui_thread_busy_ms(qtbot, seconds=2.0)
        print(
            f"GUI thread CPU per 5 ms beat while comparing: max {busy.max():.1f} ms, p99 {np.percentile(busy, 99):.1f}"
        )
        assert busy.max() < 50, f"the GUI thread was busy for {busy.max():.0f} ms at a stretch"
        assert view.results_shown > 5

        # Meanwhile the call keeps receiving the main window's filter: pixelate, never the compare view's pictures.
        mark = recorder.drain()
        recorder.wait_sent(qtbot, 10)
        candidates = {"pixelate": ("pixelate", 1.0), "blur": ("blur", 1.0), "raw": ("blur", 0.0)}
        labels = classified_after(recorder, mark + 1, candidates)
        assert len(labels) >= 5 and set(labels) == {"pixelate"}, labels
        assert recorder.leaks() == []
        assert session.settings.filter_name == "pixelate" and session.strength == 1.0

        view.grab().save(str(artifacts_dir / "compare_view.png"))
        qtbot.keyClick(view, Qt.Key.Key_Escape)  # closing stops the comparison's worker
        assert window.compare_view is None
        qtbot.waitUntil(lambda: not view.comparison.running, timeout=5000)
        wait_for_face(qtbot, session)
        recorder.wait_sent(qtbot, 3)  # and the call goes on
    finally:
        window.close()

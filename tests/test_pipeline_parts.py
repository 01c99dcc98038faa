"""The engine's small parts on their own: settings validation, events, statistics, the fail-closed gate."""

from __future__ import annotations

import numpy as np
import pytest

from app.events import EventEmitter
from app.pipeline import FaceGate, FailSafe, PipelineSettings, StatsCollector
from app.pipeline.failsafe import is_valid_output, obscure_frame
from app.tracking import OneEuroParams


def test_settings_defaults_match_the_contract():
    s = PipelineSettings()
    assert (s.filter_name, s.strength, s.filter_options, s.max_faces) == ("blur", 1.0, {}, 1)
    assert (s.on_face_lost, s.panic, s.smoothing) == ("obscure", False, OneEuroParams())


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"strength": 1.5}, "strength must be between 0 and 1"),
        ({"strength": "x"}, "strength must be a number"),
        ({"filter_name": "nope"}, "unknown filter 'nope'; choose one of: blur"),
        ({"max_faces": 0}, "max_faces must be"),
        ({"on_face_lost": "scream"}, "on_face_lost must be one of obscure, hold, card"),
        ({"panic": "yes"}, "panic must be True or False"),
        ({"filter_options": [1]}, "filter_options must be a dict"),
        ({"reacquire_frames": 0}, "reacquire_frames must be at least 1"),
        ({"colour": "red"}, "unknown setting(s): colour"),
    ],
)
def test_invalid_settings_give_a_one_line_message(changes, words):
    with pytest.raises(ValueError) as info:
        PipelineSettings().replace(**changes)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_settings_are_immutable_and_keep_their_own_options():
    options = {"margin": 0.2}
    s = PipelineSettings(filter_options=options)
    options["margin"] = 0.9
    assert s.filter_options == {"margin": 0.2}
    t = s.replace(strength=0.5)
    assert t.strength == 0.5 and s.strength == 1.0
    assert not s.filter_changed(t) and s.filter_changed(t.replace(filter_name="mask"))
    assert s.tracker_changed(s.replace(max_faces=2)) and not s.tracker_changed(t)
    with pytest.raises(AttributeError):
        s.strength = 0.1


def test_event_emitter_calls_listeners_and_survives_a_broken_one():
    emitter = EventEmitter("frame")
    got = []

    def broken(*args):
        raise RuntimeError("listener bug")

    listener = got.append  # bound methods are new objects on each access: keep one
    emitter.connect(broken)
    assert emitter.connect(listener) is listener
    emitter.connect(listener)  # connecting twice does not double-deliver
    emitter.emit(1)
    emitter.disconnect(listener)
    emitter.emit(2)
    assert got == [1] and len(emitter) == 1


def test_stats_report_fps_latency_percentiles_and_stage_means():
    stats = StatsCollector(window_s=10.0)
    for i in range(101):  # 100 intervals of 1/25 s; latencies 10..110 ms
        stats.record(100.0 + i / 25, (10 + i) / 1000, {"track": 12.0, "filter": 2.0 + (i % 2)})
    stats.skipped = 2
    snap = stats.snapshot(now=104.0, source_dropped=5)
    assert snap.fps == pytest.approx(25.0)
    assert snap.latency_p50_ms == pytest.approx(60.0)
    assert snap.latency_p95_ms == pytest.approx(105.0)
    assert snap.stage_ms == pytest.approx({"track": 12.0, "filter": 2.5}, abs=0.01)
    assert (snap.frames, snap.dropped) == (101, 7)
    # Only the window counts: 10 s later nothing recent, but the totals stay.
    later = stats.snapshot(now=130.0)
    assert later.fps == 0.0 and later.frames == 101


def test_gate_opens_at_once_at_start_up_but_needs_confirmation_after_a_loss():
    gate = FaceGate(reacquire_frames=3)
    assert gate.observe(False) is False and not gate.started
    assert gate.observe(True) is True
    assert gate.observe(False) is False
    assert [gate.observe(True) for _ in range(4)] == [False, False, True, True]
    gate.lose()
    assert [gate.observe(True) for _ in range(3)] == [False, False, True]
    gate.reset()
    assert gate.observe(True) is True


def test_failsafe_never_returns_the_raw_frame():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    for policy in ("obscure", "hold", "card"):
        out = FailSafe(policy).replacement(raw)
        assert out is not raw and out.shape == raw.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - raw.astype(int)).mean() > 30
    held = FailSafe("hold")
    good = np.zeros_like(raw)
    held.remember(good)
    assert held.replacement(raw) is good
    assert held.replacement(raw[:60]) is not good  # a different size cannot be held: obscured instead
    held.forget()
    assert np.array_equal(held.replacement(raw), obscure_frame(raw))
    assert is_valid_output(raw.copy(), raw) and not is_valid_output(raw[:, :, 0], raw)
    assert not is_valid_output(raw.astype(np.float32), raw) and not is_valid_output(None, raw)

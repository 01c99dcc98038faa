"""The live engine with the real Face Landmarker and real filters on real clips; only the camera device and
the output device are test doubles (tests/pipeline_doubles.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from app.pipeline import Pipeline, PipelineSettings
from app.pipeline.failsafe import obscure_frame
from app.sources.base import CapturedFrame
from app.tracking import FaceTracker
from filters import registry
from filters.base import Filter

from .conftest import CLIPS, MODEL
from .helpers import tracked_clip
from .pipeline_doubles import CollectSink, ListSource, face_hidden, face_hull_mask, paint_over_face

D0 = next(p for p in CLIPS if p.name == "liveportrait_d0.mp4")  # 78 frames, one face throughout
D12 = next(p for p in CLIPS if p.name == "liveportrait_d12.mp4")


def clip(path=D0, count=None, step=1):
    frames, faces = tracked_clip(path)
    stop = len(frames) if count is None else count * step
    return list(frames[:stop:step]), [f[0] for f in faces[:stop:step]]


def run_to_end(pipeline: Pipeline, timeout: float = 60.0) -> list:
    results = []
    pipeline.events.frame.connect(results.append)
    with pipeline:
        assert pipeline.wait(timeout), "pipeline did not finish"
    return results


def step_through(pipeline: Pipeline, frames, start_index: int = 0) -> list:
    """Drive the pipeline synchronously, one ``process_frame`` per frame (what ``deadpan process`` does)."""
    return [
        pipeline.process_frame(CapturedFrame(f, time.monotonic(), i), timestamp_ms=i * 33)
        for i, f in enumerate(frames, start_index)
    ]


@pytest.fixture
def collect():
    return CollectSink()


def test_every_frame_comes_out_with_the_face_covered_and_the_background_intact(collect):
    frames, faces = clip()
    # No stall repeats here (a busy machine can pause long enough for one): this test matches every output.
    settings = PipelineSettings(filter_name="blur")
    pipeline = Pipeline(ListSource(frames, fps=30), [collect], settings, model_path=MODEL, stall_after_s=10.0)
    results = run_to_end(pipeline)
    stats = pipeline.stats()
    # Every frame is either sent or counted as skipped (the output stage was busy and a newer one came).
    assert len(results) + stats.dropped == len(frames) and len(results) >= 20
    assert len(collect.frames) == len(results)
    assert collect.opened == (512, 512, 30.0)
    index_of = {id(f): i for i, f in enumerate(frames)}
    for result, sent in zip(results, collect.frames):
        assert sent is result.output, "the sink must get exactly the frame reported as output"
        i = index_of[id(result.source_image)]
        assert result.status.state == "face_found" and len(result.faces) == 1
        assert face_hidden(result.output, frames[i], faces[i]), f"face visible in frame {i}"
        far = ~face_hull_mask(frames[i].shape[:2], faces[i], grow=2.0)
        assert np.array_equal(result.output[far], frames[i][far]), f"background changed in frame {i}"
        assert {"read_wait", "track", "filter", "sink", "total"} <= set(result.timings_ms)
        assert result.sent_at >= result.captured_at
    assert stats.frames == len(results)
    assert 0 < stats.latency_p50_ms <= stats.latency_p95_ms < 1000
    assert stats.stage_ms["track"] > 0 and stats.stage_ms["filter"] > 0
    assert pipeline.status.state == "stopped"


def test_frames_with_the_face_cut_out_are_obscured_whole_and_the_face_returns_only_after_confirmation(collect):
    frames, faces = clip(count=40)
    painted = set(range(15, 25))
    source_frames = [paint_over_face(f, faces[i]) if i in painted else f for i, f in enumerate(frames)]
    pipeline = Pipeline(None, [collect], model_path=MODEL)
    try:
        results = step_through(pipeline, source_frames)
    finally:
        pipeline.stop()
    assert len(results) == len(collect.frames) == 40
    for i in sorted(painted):
        result = results[i]
        assert result.status.state == "face_lost", (i, result.status)
        assert "face lost" in result.status.message and "obscured" in result.status.message
        assert np.array_equal(result.output, obscure_frame(source_frames[i])), f"frame {i} not obscured whole"
        # Never the raw frame: not even the background survives in detail.
        assert face_hidden(result.output, frames[i], faces[i])
        assert not np.array_equal(result.output[:40], source_frames[i][:40])
    # The first frame with the face back is not trusted yet (reacquire_frames=2): still obscured whole.
    assert np.array_equal(results[25].output, obscure_frame(frames[25]))
    assert results[26].status.state == "face_found"
    for i in range(40):
        assert face_hidden(results[i].output, frames[i], faces[i]), f"face visible in frame {i}"


def test_start_up_before_the_first_face_sends_obscured_frames(collect):
    frames, faces = clip(count=20)
    blank_start = [paint_over_face(f, faces[i]) for i, f in enumerate(frames[:6])] + frames[6:]
    pipeline = Pipeline(None, [collect], model_path=MODEL)
    states = []
    pipeline.events.status.connect(lambda s: states.append(s.state))
    try:
        results = step_through(pipeline, blank_start)
    finally:
        pipeline.stop()
    for i in range(6):
        assert results[i].status.state == "starting"
        assert "looking for a face" in results[i].status.message
        assert np.array_equal(results[i].output, obscure_frame(blank_start[i]))
    # At start-up the first frame with a face is filtered at once (no earlier face to confirm against).
    assert results[6].status.state == "face_found"
    assert all(face_hidden(r.output, frames[i], faces[i]) for i, r in enumerate(results))
    assert states[0] == "starting" and "face_found" in states


class ExplodingTracker(FaceTracker):
    """The real tracker, with a fault injected: it raises on every ``fail_on`` frame."""

    def __init__(self, *args, fail_every: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.fail_every, self.calls = fail_every, 0

    def track(self, frame_bgr, timestamp_ms=None):
        self.calls += 1
        if self.calls % self.fail_every == 0:
            raise RuntimeError("injected tracker failure")
        return super().track(frame_bgr, timestamp_ms)


def test_a_tracker_that_raises_never_lets_the_raw_frame_out(collect):
    frames, faces = clip(count=20)
    with ExplodingTracker(MODEL, fail_every=3) as tracker:
        pipeline = Pipeline(None, [collect], tracker=tracker)
        try:
            results = step_through(pipeline, frames)
        finally:
            pipeline.stop()
    assert len(results) == 20
    failed = [i for i in range(20) if (i + 1) % 3 == 0]
    for i in failed:
        assert results[i].status.state == "error" and "tracking failed" in results[i].status.message
        assert np.array_equal(results[i].output, obscure_frame(frames[i]))
    # After an error the face must be confirmed again before filtering resumes.
    assert results[3].status.state == "face_lost" and results[4].status.state == "face_found"
    assert all(face_hidden(r.output, frames[i], faces[i]) for i, r in enumerate(results))


class ExplodingFilter(Filter):
    name = "test-exploding"

    def apply(self, frame, faces):
        raise RuntimeError("injected filter failure")


class WrongShapeFilter(Filter):
    name = "test-wrong-shape"

    def apply(self, frame, faces):
        return frame[:, :-1]


class InPlaceInvertFilter(Filter):
    """Draws into its input (allowed by the protocol): the raw frame the pipeline keeps must stay intact."""

    name = "test-invert"

    def apply(self, frame, faces):
        np.subtract(255, frame, out=frame)
        return frame


class NoticeFilter(Filter):
    """Says it did less than asked on every other frame (as the neutraliser does when it blurs a face)."""

    name = "test-notice"

    def apply(self, frame, faces):
        self.notice = "test: blurring the face" if not self.notice else ""
        np.subtract(255, frame, out=frame)
        return frame


@pytest.fixture
def test_filters(monkeypatch):
    for cls in (ExplodingFilter, WrongShapeFilter, InPlaceInvertFilter, NoticeFilter):
        monkeypatch.setitem(registry._REGISTRY, cls.name, cls)


def test_a_filter_notice_reaches_the_status_and_goes_when_it_does(test_filters, collect):
    from app.gui.status_bar import status_text

    frames, _ = clip(count=6)
    pipeline = Pipeline(None, [collect], PipelineSettings(filter_name="test-notice"), model_path=MODEL)
    try:
        results = step_through(pipeline, frames)
    finally:
        pipeline.stop()
    found = [r.status for r in results if r.status.state == "face_found"]
    assert len(found) >= 3
    with_notice = [s for s in found if "test: blurring the face" in s.message]
    assert with_notice and len(with_notice) < len(found)  # it comes and goes with the filter's word
    assert status_text(with_notice[0]) == "Face found — test: blurring the face"
    assert status_text(next(s for s in found if s not in with_notice)) == "Face found"


@pytest.mark.parametrize("name", ["test-exploding", "test-wrong-shape"])
def test_a_broken_filter_fails_closed(test_filters, name, collect):
    frames, faces = clip(count=6)
    pipeline = Pipeline(None, [collect], PipelineSettings(filter_name=name), model_path=MODEL)
    try:
        results = step_through(pipeline, frames)
    finally:
        pipeline.stop()
    for i, result in enumerate(results):
        assert result.status.state == "error" and f"filter {name}" in result.status.message
        assert np.array_equal(result.output, obscure_frame(frames[i]))
        assert collect.frames[i] is result.output
        assert face_hidden(result.output, frames[i], faces[i])


def test_damaged_frames_from_the_camera_are_replaced_by_the_last_output_obscured(collect):
    frames, faces = clip(count=4)
    gray = frames[2][:, :, 0]
    damaged = [frames[0], frames[1], gray, frames[2].astype(np.float32), np.zeros((0, 0, 3), np.uint8), frames[3]]
    pipeline = Pipeline(None, [collect], model_path=MODEL)
    try:
        results = step_through(pipeline, damaged)
    finally:
        pipeline.stop()
    stand_in = obscure_frame(results[1].output)
    for result in results[2:5]:
        assert result.status.state == "error" and "damaged frame" in result.status.message
        assert np.array_equal(result.output, stand_in) and result.output.shape == frames[0].shape
    assert len(collect.frames) == 6 and all(f.shape == frames[0].shape for f in collect.frames)
    assert face_hidden(results[5].output, frames[3], faces[3])


def test_each_damaged_frame_stands_in_with_the_newest_output_obscured(collect):
    frames, _ = clip(count=3)
    damaged = np.zeros((0, 0, 3), np.uint8)
    pipeline = Pipeline(None, [collect], model_path=MODEL)
    try:
        results = step_through(pipeline, [frames[0], damaged, frames[1], frames[2], damaged])
    finally:
        pipeline.stop()
    assert np.array_equal(results[1].output, obscure_frame(results[0].output))
    assert np.array_equal(results[4].output, obscure_frame(results[3].output))  # not the first stand-in again
    assert not np.array_equal(results[4].output, results[1].output)


def test_a_filter_drawing_into_its_input_leaves_the_raw_preview_and_the_fallback_intact(test_filters, collect):
    frames, _ = clip(count=3)
    originals = [f.copy() for f in frames]
    pipeline = Pipeline(None, [collect], PipelineSettings(filter_name="test-invert"), model_path=MODEL)
    try:
        results = step_through(pipeline, frames)
    finally:
        pipeline.stop()
    for result, original in zip(results, originals):
        assert np.array_equal(result.source_image, original)
        assert np.array_equal(result.output, 255 - original)


@pytest.mark.parametrize("policy", ["hold", "card"])
def test_face_lost_policies_hold_the_last_filtered_frame_or_send_a_card(policy, collect):
    frames, faces = clip(count=12)
    source_frames = frames[:8] + [paint_over_face(f, faces[i]) for i, f in enumerate(frames[8:], 8)]
    pipeline = Pipeline(None, [collect], PipelineSettings(on_face_lost=policy), model_path=MODEL)
    try:
        results = step_through(pipeline, source_frames)
    finally:
        pipeline.stop()
    last_good = results[7].output
    assert results[7].status.state == "face_found"
    for result in results[8:]:
        assert result.status.state == "face_lost"
        if policy == "hold":
            assert result.output is last_good and "holding" in result.status.message
        else:
            card = result.output
            assert card.shape == frames[0].shape and card.std(axis=(0, 1)).max() < 40  # flat, a little text
            assert "card" in result.status.message


def test_hold_before_any_good_frame_falls_back_to_obscured(collect):
    frames, faces = clip(count=2)
    painted = [paint_over_face(f, faces[i]) for i, f in enumerate(frames)]
    pipeline = Pipeline(None, [collect], PipelineSettings(on_face_lost="hold"), model_path=MODEL)
    try:
        results = step_through(pipeline, painted)
    finally:
        pipeline.stop()
    assert all(np.array_equal(r.output, obscure_frame(painted[i])) for i, r in enumerate(results))


def test_panic_obscures_every_frame_from_the_next_one_and_release_needs_reconfirmation(collect):
    frames, faces = clip(count=16)
    pipeline = Pipeline(None, [collect], model_path=MODEL)
    try:
        before = step_through(pipeline, frames[:5])
        pipeline.update(panic=True)
        during = step_through(pipeline, frames[5:10], 5)
        pipeline.update(panic=False)
        after = step_through(pipeline, frames[10:], 10)
    finally:
        pipeline.stop()
    assert all(r.status.state == "face_found" for r in before)
    for i, result in enumerate(during, 5):
        assert result.status.state == "panic" and np.array_equal(result.output, obscure_frame(frames[i]))
    assert np.array_equal(after[0].output, obscure_frame(frames[10]))  # face must be confirmed again
    assert after[1].status.state == "face_found"


def test_panic_pressed_while_running_obscures_everything_sent_after_the_press(collect):
    frames, faces = clip()
    pipeline = Pipeline(ListSource(frames, fps=60), [collect], model_path=MODEL)
    results = []
    pressed = []

    def on_frame(result):
        results.append(result)
        if len(results) == 20:
            pipeline.update(panic=True)  # from another thread in the app; here mid-stream from a listener
            pressed.append(time.monotonic())

    pipeline.events.frame.connect(on_frame)
    with pipeline:
        assert pipeline.wait(30)
    after = [r for r in results if r.sent_at > pressed[0]]
    assert len(after) >= 10  # 58 frames offered after the press; a busy machine drops some
    for result in after:
        assert result.status.state == "panic"
        assert np.array_equal(result.output, obscure_frame(result.source_image))


def test_switching_settings_while_running_never_sends_a_raw_face(collect):
    frames, faces = clip()
    pipeline = Pipeline(ListSource(frames, fps=40), [collect], model_path=MODEL)
    results = []
    pipeline.events.frame.connect(results.append)
    index_of = {id(f): i for i, f in enumerate(frames)}
    changes = [
        {"filter_name": "pixelate"},
        {"filter_name": "mask", "strength": 0.9},
        {"filter_name": "blur", "strength": 1.0},
        {"max_faces": 2},
        {"on_face_lost": "hold"},
        {"filter_name": "pixelate"},
    ]
    with pipeline:
        for change in changes:
            time.sleep(0.2)
            pipeline.update(**change)
        assert pipeline.wait(30)
    assert len(results) + pipeline.stats().dropped == len(frames)
    seen = {r.status.state for r in results}
    assert seen <= {"face_found", "face_lost", "starting"}
    for result in results:
        i = index_of[id(result.source_image)]
        assert face_hidden(result.output, frames[i], faces[i]), f"face visible in frame {i}"
    assert type(pipeline.filter).name == "pixelate"
    pipeline.update(filter_name="mask")  # not running: applied at the next frame, but visible at once
    assert type(pipeline.filter).name == "mask"
    assert pipeline.settings.max_faces == 2 and pipeline.settings.on_face_lost == "hold"


def test_a_filter_that_cannot_be_built_keeps_the_old_one_and_says_so(collect):
    frames, faces = clip(count=6)
    pipeline = Pipeline(None, [collect], model_path=MODEL)
    statuses = []
    pipeline.events.status.connect(statuses.append)
    try:
        step_through(pipeline, frames[:3])
        old = pipeline.filter
        pipeline.update(filter_name="pixelate", filter_options={"no_such_option": 1}, strength=0.8)
        results = step_through(pipeline, frames[3:], 3)
    finally:
        pipeline.stop()
    assert any(s.state == "error" and "could not switch to filter pixelate" in s.message for s in statuses)
    assert pipeline.filter is old and pipeline.settings.filter_name == "blur"
    assert pipeline.filter.strength == 0.8  # the rest of the change still applied
    for i, result in enumerate(results, 3):
        assert face_hidden(result.output, frames[i], faces[i])
    with pytest.raises(ValueError, match="strength"):
        pipeline.update(strength=2.0)


def test_a_stalled_source_keeps_the_stream_flowing_with_the_last_frame_obscured(collect):
    frames, faces = clip(count=30)
    source = ListSource(frames, fps=30, stall_at=10, stall_s=1.0)
    pipeline = Pipeline(source, [collect], model_path=MODEL, stall_after_s=0.2)
    statuses = []
    pipeline.events.status.connect(statuses.append)
    results = run_to_end(pipeline)
    assert len(results) + pipeline.stats().dropped == 30
    outputs = {id(r.output) for r in results}
    repeats, last_real = [], None
    for frame in collect.frames:
        if id(frame) in outputs:
            last_real = frame
        else:  # a repeat during the stall: the last real output, obscured
            assert last_real is not None and np.array_equal(frame, obscure_frame(last_real))
            repeats.append(frame)
    # ~1 s of stall at 30 fps, minus the 0.2 s grace before a stall counts: about 24 repeats.
    assert 16 <= len(repeats) <= 30, len(repeats)
    gaps = np.diff(collect.times)
    assert gaps.max() < 0.2 + 0.25, f"the output froze for {gaps.max():.2f} s"
    assert any(s.state == "no_source" and "obscured" in s.message for s in statuses)
    assert pipeline.stats().resent == len(repeats)


def test_a_failing_sink_is_retried_and_never_stops_the_stream():
    frames, faces = clip(count=60)
    good, flaky = CollectSink(name="good"), CollectSink(fail_writes=3, name="flaky output")
    pipeline = Pipeline(ListSource(frames, fps=30), [good, flaky], model_path=MODEL)
    statuses = []
    pipeline.events.status.connect(statuses.append)
    results = run_to_end(pipeline)
    stats = pipeline.stats()  # a busy machine may add obscured stall repeats to what the outputs get
    assert len(good.frames) == len(results) + stats.resent and len(results) + stats.dropped == 60
    # Backing off 0.1 + 0.2 + 0.4 s skips the frames of those 0.7 s, then the output is back.
    assert flaky.failed == 3 and 5 < len(flaky.frames) < len(results) - 3
    assert flaky.frames[-1] is good.frames[-1] is results[-1].output
    assert any("flaky output failed" in s.message and "retrying" in s.message for s in statuses)


def test_sinks_added_and_removed_while_running(collect):
    frames, _ = clip()  # 78 frames at 30 fps: 2.6 s
    late = CollectSink()
    pipeline = Pipeline(ListSource(frames, fps=30), [collect], model_path=MODEL)
    results = []
    reached = {15: threading.Event(), 40: threading.Event()}

    def count(result):
        results.append(result)
        if len(results) in reached:
            reached[len(results)].set()

    pipeline.events.frame.connect(count)
    with pipeline:
        assert reached[15].wait(30)
        pipeline.add_sink(late)
        assert reached[40].wait(30)
        pipeline.remove_sink(collect)
        assert collect.stopped
        assert pipeline.wait(30)
    assert 0 < len(late.frames) < len(results) and 0 < len(collect.frames) < len(results)
    assert late.frames[-1] is results[-1].output and late.stopped


def test_switching_the_source_while_running_keeps_the_output_covered(collect):
    frames_a, faces_a = clip(count=30)
    frames_b, faces_b = clip(D12, count=30)
    first = ListSource(frames_a * 10, fps=30)  # long enough to still be running at the switch
    second = ListSource(frames_b, fps=30)
    pipeline = Pipeline(first, [collect], model_path=MODEL)
    results = []
    pipeline.events.frame.connect(results.append)
    with pipeline:
        time.sleep(0.5)
        pipeline.set_source(second)
        assert second.started
        assert pipeline.wait(30)
    assert first.stopped
    from_b = [r for r in results if any(r.source_image is f for f in frames_b)]
    assert len(from_b) >= 20
    lookup = {id(f): faces_a[i] for i, f in enumerate(frames_a)} | {id(f): faces_b[i] for i, f in enumerate(frames_b)}
    for result in results:
        assert face_hidden(result.output, result.source_image, lookup[id(result.source_image)])


def test_status_and_stats_events_are_announced(collect):
    frames, _ = clip()
    pipeline = Pipeline(ListSource(frames, fps=50), [collect], model_path=MODEL)
    snapshots, statuses = [], []
    pipeline.events.stats.connect(snapshots.append)
    pipeline.events.status.connect(statuses.append)
    done = threading.Event()
    pipeline.events.status.connect(lambda s: s.state == "stopped" and done.set())
    run_to_end(pipeline)
    assert done.is_set()
    assert snapshots, "no statistics within a 1.5 s run"
    assert all(s.fps > 0 for s in snapshots)  # none from the first frame alone, which has no rate ("0.0 fps")
    snap = snapshots[-1]
    # 50 fps offered; a busy machine drops some.
    assert 5 < snap.fps < 80 and snap.latency_p95_ms > 0 and "track" in snap.stage_ms
    assert "fps" in snap.line() and "p95" in snap.line()
    assert statuses[-1].state == "stopped"

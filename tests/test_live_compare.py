"""The live comparison core: two filters on the engine's frames, re-measured by its own IMAGE-mode landmarker."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from app.lab.live_compare import MIN_SAMPLES, LiveComparison, SideSettings
from app.pipeline.frames import FrameResult, Status
from filters import create_filter
from filters.obscure import obscure_frame

from .conftest import MEDIA, MODEL
from .helpers import tracked_clip

SMILE_CLIP = MEDIA / "liveportrait_d0.mp4"  # a smile coming and going: expression to leak


def frame_results(step: int = 1) -> list[FrameResult]:
    """The clip as the engine would announce it: the raw frame and the faces its (VIDEO-mode) tracker found."""
    frames, faces = tracked_clip(SMILE_CLIP)
    results = []
    for index in range(0, len(frames), step):
        status = Status("face_found" if faces[index] else "face_lost", "", len(faces[index]))
        at = index / 25.0
        results.append(FrameResult(frames[index], frames[index], faces[index], status, {}, at, at))
    return results


def test_blur_at_full_strength_leaks_nothing_and_strength_zero_everything():
    results = [r for r in frame_results(step=2) if r.faces]
    assert len(results) >= 30
    comparison = LiveComparison(("blur", 1.0), ("blur", 0.0), model_path=MODEL, window=len(results))
    try:
        for result in results:
            last = comparison.process(result, measure=True)
    finally:
        comparison.close()
    blurred, untouched = last.left, last.right
    print(
        f"blur 1: leakage {blurred.leakage:.3f} face kept {blurred.face_kept:.2f} {blurred.ms_per_frame:.1f} ms; "
        f"blur 0: leakage {untouched.leakage:.3f} face kept {untouched.face_kept:.2f}; families "
        f"{ {k: round(v, 2) for k, v in blurred.family_leakage.items()} } vs "
        f"{ {k: round(v, 2) for k, v in untouched.family_leakage.items()} }"
    )
    assert blurred.samples == untouched.samples == len(results)
    # Strength 0 returns the raw frame: the same landmarker on the same pixels gives the same scores.
    assert untouched.leakage == pytest.approx(1.0, abs=0.02)
    assert untouched.face_kept == 1.0
    assert untouched.family_leakage["smile"] == pytest.approx(1.0, abs=0.02)
    # Full blur: the expression is gone, whether the face is still found (leakage ~0) or not (face kept ~0).
    assert blurred.leakage < 0.3 or blurred.face_kept < 0.2
    assert blurred.family_leakage["smile"] < 0.3 or blurred.face_kept < 0.2
    assert blurred.ms_per_frame > 0 and untouched.ms_per_frame >= 0
    # The previews are the filters' real outputs on the raw frame and the faces the engine tracked.
    expected = create_filter("blur", 1.0).apply(results[-1].source_image.copy(), results[-1].faces)
    assert np.array_equal(last.left_output, expected)
    assert np.array_equal(last.right_output, results[-1].source_image)
    assert last.measured and last.face_found


def test_figures_wait_for_enough_samples_and_restart_when_a_side_changes():
    results = [r for r in frame_results(step=3) if r.faces][: MIN_SAMPLES + 2]
    comparison = LiveComparison(("pixelate", 1.0), ("blur", 0.0), model_path=MODEL)
    try:
        first = comparison.process(results[0], measure=True)
        assert first.left.samples == 1 and math.isnan(first.left.leakage) and not first.left.ready
        for result in results[1:MIN_SAMPLES]:
            frame = comparison.process(result, measure=True)
        assert frame.right.ready and not math.isnan(frame.right.leakage)
        not_measured = comparison.process(results[MIN_SAMPLES], measure=False)
        assert not not_measured.measured and not_measured.right.samples == MIN_SAMPLES

        kept = comparison._sides["left"].filter
        comparison.set_side("left", ("pixelate", 0.5))  # a strength change keeps the filter, not the window
        frame = comparison.process(results[MIN_SAMPLES + 1], measure=True)
        assert comparison._sides["left"].filter is kept and kept.strength == 0.5
        assert frame.left.settings == SideSettings("pixelate", 0.5) and frame.left.samples == 1
        assert frame.right.samples == MIN_SAMPLES + 1  # the other side goes on

        comparison.set_side("right", SideSettings("mask", 1.0))
        comparison.reset()
        frame = comparison.process(results[0], measure=False)
        assert frame.left.samples == frame.right.samples == 0
        assert comparison._sides["right"].filter.name == "mask"
    finally:
        comparison.close()


def test_a_frame_without_faces_is_obscured_on_both_sides_and_not_measured():
    result = frame_results(step=10)[0]
    lost = FrameResult(result.source_image, result.output, (), Status("face_lost", ""), {}, 0.0, 0.0)
    comparison = LiveComparison(("blur", 0.0), ("pixelate", 0.0), model_path=MODEL)
    try:
        frame = comparison.process(lost, measure=True)
    finally:
        comparison.close()
    hidden = obscure_frame(result.source_image)
    assert np.array_equal(frame.left_output, hidden) and np.array_equal(frame.right_output, hidden)
    assert not frame.measured and not frame.face_found and frame.left.samples == 0


def test_bad_side_settings_are_refused_in_one_line():
    with pytest.raises(ValueError, match="unknown filter 'nope'"):
        SideSettings("nope", 1.0)
    with pytest.raises(ValueError, match="strength must be between 0 and 1"):
        SideSettings("blur", 1.5)
    comparison = LiveComparison(("blur", 1.0), ("blur", 0.0), model_path=MODEL)
    with pytest.raises(ValueError, match="side must be one of left, right"):
        comparison.set_side("middle", ("blur", 1.0))


def test_the_worker_keeps_only_the_newest_frame_when_fed_faster_than_it_measures():
    results = [r for r in frame_results(step=1) if r.faces][:40]
    got: list = []
    done = threading.Event()
    comparison = LiveComparison(("blur", 1.0), ("pixelate", 1.0), model_path=MODEL, measure_interval_s=0.0)
    comparison.max_fps = 0.0  # as fast as it can: every step measures (three landmarker runs)

    def on_result(frame) -> None:
        got.append(frame)
        if frame.frame_id == len(results):
            done.set()

    comparison.events.result.connect(on_result)
    with comparison:
        for result in results:  # 200 frames/s: far faster than a measured step (tens of ms)
            comparison.submit(result)
            time.sleep(0.005)
        assert done.wait(timeout=20.0), "the newest frame was never processed"
    assert not comparison.running
    ids = [frame.frame_id for frame in got]
    print(f"fed {len(results)}, processed {len(got)}, dropped {comparison.frames_dropped}: ids {ids}")
    assert ids == sorted(set(ids)) and ids[-1] == len(results)
    assert len(got) < len(results) // 2  # most frames were replaced by newer ones, never queued
    assert comparison.frames_dropped + len(got) == len(results)
    for frame in got:  # each result is about the frame submitted under its id
        assert frame.source_image is results[frame.frame_id - 1].source_image
    assert all(frame.measured for frame in got)
    comparison.submit(results[0])  # after stop: ignored, nothing runs
    assert comparison.frames_processed == len(got)

    done.clear()
    results.append(results[0])  # started again, it goes on with the next frame offered
    with comparison:
        comparison.submit(results[-1])
        assert done.wait(timeout=10.0)
    assert got[-1].frame_id == len(results) and comparison.frames_processed == len(got)


def test_side_settings_compare_options_holding_arrays_by_identity():
    # A calibrated neutral reference holds arrays; == on it has no single truth value.
    reference = {"landmarks": np.zeros((3, 3), np.float32)}
    same = SideSettings("blur", 0.5, {"reference": reference["landmarks"]})
    assert same == SideSettings("blur", 0.5, {"reference": reference["landmarks"]})
    assert same.same_filter(SideSettings("blur", 1.0, {"reference": reference["landmarks"]}))
    assert same != SideSettings("blur", 0.5, {"reference": np.zeros((3, 3), np.float32)})
    assert same != SideSettings("blur", 0.5) and same != SideSettings("pixelate", 0.5, same.options)

"""A face beyond the number the user set up to filter must not reach the output unfiltered."""

import numpy as np

from app.pipeline import Pipeline, PipelineSettings
from app.sources.base import CapturedFrame

from .conftest import CLIPS, MODEL
from .helpers import read_frames


def _two_people(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate([frame, frame[:, ::-1]], axis=1))


def test_a_second_face_with_faces_set_to_one_obscures_the_whole_frame():
    frames = read_frames(CLIPS[0], max_frames=12)
    pipeline = Pipeline(None, [], PipelineSettings(filter_name="blur", max_faces=1), model_path=MODEL)
    try:
        alone = [
            pipeline.process_frame(CapturedFrame(f, i / 25, i), timestamp_ms=i * 40) for i, f in enumerate(frames[:6])
        ]
        assert alone[-1].status.state == "face_found"
        crowd = [
            pipeline.process_frame(CapturedFrame(_two_people(f), (6 + i) / 25, 6 + i), timestamp_ms=(6 + i) * 40)
            for i, f in enumerate(frames[6:])
        ]
    finally:
        pipeline.stop()
    # The tracker (VIDEO mode) picks the newcomer up within a few frames; from then on nothing is filtered
    # face by face: the whole frame is obscured, and the status says why.
    flagged = [r for r in crowd if r.status.state == "extra_face"]
    assert len(flagged) >= len(crowd) - 3, [r.status.state for r in crowd]
    for result in flagged:
        assert len(result.faces) == 2 and "filtering is set for 1" in result.status.message
        # Obscured everywhere: both halves lost their detail, not only the face that had a filter.
        for half in (slice(0, 512), slice(512, 1024)):
            raw, out = result.source_image[:, half].astype(np.float32), result.output[:, half].astype(np.float32)
            assert np.abs(np.diff(out, axis=1)).mean() < 0.2 * np.abs(np.diff(raw, axis=1)).mean()
    # Once seen, the second face keeps the frame obscured for as long as it stays (no flicker back).
    first = next(i for i, r in enumerate(crowd) if r.status.state == "extra_face")
    assert all(r.status.state == "extra_face" for r in crowd[first:]), [r.status.state for r in crowd]


def test_faces_set_to_two_filters_both_people():
    frames = read_frames(CLIPS[0], max_frames=8)
    pipeline = Pipeline(None, [], PipelineSettings(filter_name="blur", max_faces=2), model_path=MODEL)
    try:
        results = [
            pipeline.process_frame(CapturedFrame(_two_people(f), i / 25, i), timestamp_ms=i * 40)
            for i, f in enumerate(frames)
        ]
    finally:
        pipeline.stop()
    assert results[-1].status.state == "face_found" and len(results[-1].faces) == 2

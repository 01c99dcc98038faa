"""Offline processing internals: the fail-closed path through the track-ahead thread, and cancelling."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from app.pipeline import PipelineSettings
from app.pipeline.failsafe import obscure_frame
from app.pipeline.offline import process_video
from app.sinks import SinkError

from .conftest import CLIPS, MODEL
from .helpers import read_frames, tracked_clip
from .pipeline_doubles import face_hidden, paint_over_face

D0 = next(p for p in CLIPS if p.name == "liveportrait_d0.mp4")


def write_video(path, frames, fps=25.0):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_offline_frames_without_a_face_come_out_obscured_whole(tmp_path):
    frames, faces = tracked_clip(D0)
    frames, faces = frames[:30], [f[0] for f in faces[:30]]
    painted = range(10, 20)
    clip = tmp_path / "gap.avi"
    write_video(clip, [paint_over_face(f, faces[i]) if i in painted else f for i, f in enumerate(frames)])
    decoded = read_frames(clip)  # what the pipeline really sees (MJPG is lossy)
    report = process_video(clip, tmp_path / "out.avi", PipelineSettings(), model_path=MODEL)
    out = read_frames(tmp_path / "out.avi")
    assert report.frames == len(out) == 30
    assert report.states.get("face_lost", 0) >= 10
    for i in range(30):
        assert face_hidden(out[i], frames[i], faces[i]), f"face visible in frame {i}"
    for i in painted:  # the whole frame obscured, not just the face region
        expected = obscure_frame(decoded[i])
        assert np.abs(out[i].astype(int) - expected.astype(int)).mean() < 6, i


def test_cancelling_leaves_nothing_behind(tmp_path):
    cancel = threading.Event()

    def progress(done, total):
        if done == 10:
            cancel.set()

    with pytest.raises(KeyboardInterrupt):
        process_video(D0, tmp_path / "out.mp4", PipelineSettings(), model_path=MODEL, progress=progress, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_cannot_open_ends_the_job_and_leaves_nothing_behind(tmp_path):
    # Live outputs that fail to open are retried while the pipeline runs; a job must stop at once instead of
    # going on to report frames it never wrote (the CLI then said "wrote out.gif" with no such file).
    with pytest.raises(SinkError, match="cannot write a video to out.gif"):
        process_video(D0, tmp_path / "out.gif", PipelineSettings(), model_path=MODEL)
    assert list(tmp_path.iterdir()) == []

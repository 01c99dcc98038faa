"""Fault injection: the real pipeline, tracker and filters on a real clip, with the camera device and the
virtual-camera driver misbehaving. For every fault: no leaked frame, no crash, the virtual camera keeps
receiving frames, recovery within 1 s of the cause going away, and a status that says what is going on.

The per-fault table is printed at the end (so it is in the CI log) and written to artifacts/fault_table.md.
"""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import pytest

from app.lab.leak import ALTERED, EXPRESSIVE_BLENDSHAPE, OBSCURED, expression_level
from app.pipeline import PipelineSettings, Status
from app.pipeline.mesh_check import MeshCheck
from app.sinks import NullSink
from app.tracking import FaceTracker
from filters import registry
from filters.blur import BlurFilter
from filters.neutralise import reference_from_image
from tests.capture_backend import BACKEND_NAME, CaptureBackend, register
from tests.faults.camera import CameraScript
from tests.faults.cli import run_cli
from tests.faults.harness import Fault, FaultResult, FaultRun, run_fault, write_table
from tests.faults.painters import (
    add_second_face,
    cover_half,
    darken,
    garbage_payloads,
    overexpose,
    rescale,
    shift,
)
from tests.faults.sinks import FlakySink

from .conftest import MEDIA, MODEL
from .helpers import tracked_clip

CLIP = MEDIA / "liveportrait_d10.mp4"  # talking, raised brows, smiles: 448 frames at 30 fps, 512x512
DONOR = MEDIA / "liveportrait_d12.mp4"  # another person, for the second face
RECOVERY_LIMIT_MS = 1000.0
# The stream must never stop: no interval between two frames at the virtual camera may come near a freeze
# (call apps keep showing the last frame for a moment and report a stopped camera after a second or more).
# The engine waits 0.25 s (its stall grace) before it repeats obscured frames into a silent source. Gaps during
# which the test process itself could not run (a busy shared machine: the harness's heartbeat stalled too) are
# not the engine's and are left out. Every camera outage below lasts 1.2 s, so an engine that stopped sending
# during one fails this. All gaps over 2 frame periods are counted in the table.
MAX_GAP_MS = 900.0
RESULTS: dict[str, FaultResult] = {}


def segment(start: int, count: int = 90) -> tuple[list[np.ndarray], list[tuple]]:
    frames, faces = tracked_clip(CLIP)
    return list(frames[start : start + count]), [tuple(f) for f in faces[start : start + count]]


def painted(start: int, count: int, window: range, paint) -> tuple[list[np.ndarray], list[tuple]]:
    frames, truth = segment(start, count)
    for i in window:
        frames[i], truth[i] = paint(frames[i], truth[i], i)
    return frames, truth


class FlakyTracker(FaceTracker):
    """The real tracker, made to raise while ``failing`` is set (an injected fault, not a stand-in)."""

    failing = False

    def track(self, frame_bgr, timestamp_ms=None):
        if self.failing:
            raise RuntimeError("injected tracker failure")
        return super().track(frame_bgr, timestamp_ms)


class FlakyBlur(BlurFilter):
    """The real blur filter, made to raise while the class flag ``failing`` is set."""

    name = "flaky-blur"
    failing = False

    def apply(self, frame, faces):
        if FlakyBlur.failing:
            raise RuntimeError("injected filter failure")
        return super().apply(frame, faces)


def _mark(run: FaultRun, attribute: str) -> None:
    """Within an action: the cause starts or ends now (``cause_started_at`` / ``cause_ended_at``)."""
    setattr(run, attribute, time.monotonic())


# ------------------------------------------------------------------------------------------ the faults
def fault_face_leaves() -> Fault:
    width = 512

    def paint(frame, faces, i):
        # 20..39 walking out to the right, 40..54 gone, 55..69 coming back
        dx = width * min(1.0, (i - 19) / 20) if i < 55 else width * (70 - i) / 15
        return shift(frame, faces, dx, 0)

    frames, truth = painted(0, 100, range(20, 70), paint)
    return Fault("face leaves and re-enters", frames, truth, cause_starts=20, cause_ends=70)


def fault_half_covered() -> Fault:
    frames, truth = painted(100, 90, range(20, 60), lambda f, t, i: cover_half(f, t, "lower" if i < 40 else "left"))
    return Fault("half covered (hand)", frames, truth, cause_starts=20, cause_ends=60)


def _second_face(max_faces: int) -> Fault:
    donor_frames, donor_faces = tracked_clip(DONOR)

    def paint(frame, faces, i):
        out, both = add_second_face(frame, faces, donor_frames[i], donor_faces[i][0])
        # With one face tracked the user's face is the one promised; with two, both must be covered.
        return out, both if max_faces > 1 else tuple(faces)

    frames, truth = painted(200, 90, range(20, 70), paint)
    settings = PipelineSettings(max_faces=max_faces)
    name = f"second face appears (faces={max_faces})"
    return Fault(name, frames, truth, settings=settings, cause_starts=20, cause_ends=70)


def fault_fast_movement() -> Fault:
    rng = np.random.default_rng(6)
    all_frames, all_faces = tracked_clip(CLIP)
    frames, truth = segment(0, 90)
    for i in range(20, 60):
        j = min(len(all_frames) - 1, 20 + (i - 20) * 3)  # every third frame: the head jumps
        dx, dy = rng.uniform(-70, 70, 2)
        frames[i], truth[i] = shift(all_frames[j], all_faces[j], dx, dy)
    return Fault("very fast head movement (skipped + shaken frames)", frames, truth, cause_starts=20, cause_ends=60)


def fault_darkness() -> Fault:
    frames, truth = painted(300, 90, range(30, 60), lambda f, t, i: darken(f, t, 0.12))
    return Fault("sudden darkness", frames, truth, cause_starts=30, cause_ends=60)


def fault_overexposure() -> Fault:
    frames, truth = painted(300, 90, range(30, 60), lambda f, t, i: overexpose(f, t))
    return Fault("sudden overexposure", frames, truth, cause_starts=30, cause_ends=60)


def fault_camera_outage(unplugged: bool) -> Fault:
    """Before frame 30 the camera goes quiet (read returns nothing) or unplugged (read raises) for 1.2 s."""
    frames, truth = segment(150, 80)
    outage = {30: 1.2}
    script = CameraScript(read_errors=outage) if unplugged else CameraScript(stalls=outage)
    name = "camera read raises 1.2 s (unplugged), then returns" if unplugged else "camera stops 1.2 s, then returns"
    return Fault(name, frames, truth, script=script, cause_starts=30, cause_ends=30)


def fault_resolution_change() -> Fault:
    frames, truth = painted(250, 90, range(40, 90), lambda f, t, i: rescale(f, t, (1280, 720)))
    return Fault("camera returns another resolution (1280x720)", frames, truth, cause_starts=40, cause_ends=40)


def fault_corrupt_frames() -> Fault:
    frames, truth = segment(350, 90)
    payloads = {30 + k: p for k, p in enumerate(garbage_payloads(frames[0].shape))}
    end = 30 + len(payloads)
    return Fault(
        "corrupted frames (garbage, wrong shape/dtype, empty, None)",
        frames,
        truth,
        script=CameraScript(payloads=payloads),
        cause_starts=30,
        cause_ends=end,
    )


def fault_tracker_raises() -> Fault:
    frames, truth = segment(50, 90)
    holder: dict[str, FlakyTracker] = {}

    def make() -> FlakyTracker:
        holder["tracker"] = FlakyTracker(MODEL)
        return holder["tracker"]

    def begin(run: FaultRun) -> None:
        holder["tracker"].failing = True
        _mark(run, "cause_started_at")

    def end(run: FaultRun) -> None:
        holder["tracker"].failing = False
        _mark(run, "cause_ended_at")

    return Fault("tracker raises (15 frames)", frames, truth, tracker_factory=make, actions={30: begin, 45: end})


def fault_filter_raises() -> Fault:
    frames, truth = segment(80, 90)

    def begin(run: FaultRun) -> None:
        FlakyBlur.failing = True
        _mark(run, "cause_started_at")

    def end(run: FaultRun) -> None:
        FlakyBlur.failing = False
        _mark(run, "cause_ended_at")

    settings = PipelineSettings(filter_name="flaky-blur")
    return Fault("filter raises (15 frames)", frames, truth, settings=settings, actions={30: begin, 45: end})


def fault_driver_fails() -> Fault:
    frames, truth = segment(120, 130)
    window: dict[str, float] = {}

    def begin(run: FaultRun) -> None:
        with CaptureBackend.lock:
            CaptureBackend.fail_sends = 10**9
        _mark(run, "cause_started_at")
        window["start"] = run.cause_started_at

    def end(run: FaultRun) -> None:
        with CaptureBackend.lock:
            CaptureBackend.fail_sends = 0
        _mark(run, "cause_ended_at")
        window["end"] = run.cause_ended_at

    def own_gap(t0: float, t1: float) -> bool:  # nothing can arrive while the driver itself is down
        return t1 >= window.get("start", np.inf) and t0 <= window.get("end", np.inf) + 1.0

    return Fault(
        "virtual-camera driver fails 2 s, comes back",
        frames,
        truth,
        actions={30: begin, 90: end},
        exclude_gaps=own_gap,
    )


def fault_second_output_fails() -> Fault:
    """A second output (a recording) fails for 1 s: the virtual camera must not notice."""
    frames, truth = segment(280, 90)
    recording = FlakySink(NullSink())

    def begin(run: FaultRun) -> None:
        recording.fail_for(1.0)
        run.cause_started_at = time.monotonic()
        run.cause_ended_at = recording.outage_ended_at

    return Fault("second output (recording) fails 1 s", frames, truth, actions={20: begin}, extra_sinks=[recording])


def _calibrated_reference():
    """A neutral reference from the clip's most neutral frame, as the app's calibration would capture it (the
    "auto" reference starts from whatever face it first sees, so its first frame passes unchanged)."""
    frames, faces = tracked_clip(CLIP)
    best = min((i for i in range(len(frames)) if faces[i]), key=lambda i: expression_level(faces[i][0]))
    return reference_from_image(frames[best], faces[best][0])


def _settings_storm(neutralise: bool) -> Fault:
    frames, truth = segment(0 if neutralise else 200, 120)
    if neutralise:
        neutral = {"filter_name": "neutralise", "filter_options": {"reference": _calibrated_reference()}}
        initial = PipelineSettings(**neutral)
        changes = [
            {"strength": 0.8},
            {"filter_name": "blur", "strength": 1.0, "filter_options": {}},
            neutral,
            {"panic": True},
            {"panic": False},
            {"max_faces": 2},
            {"strength": 1.0},
        ]
    else:
        initial = PipelineSettings()
        changes = [
            {"filter_name": "pixelate"},
            {"strength": 0.85},
            {"filter_name": "mask", "strength": 1.0},
            {"on_face_lost": "card"},
            {"panic": True},
            {"panic": False},
            {"max_faces": 2},
            {"filter_name": "blur", "on_face_lost": "hold"},
        ]
    actions = {}
    for k, change in enumerate(changes[:-1]):
        actions[10 + 10 * k] = lambda run, change=change: run.pipeline.update(**change)

    def last_change(run: FaultRun) -> None:
        run.pipeline.update(**changes[-1])
        _mark(run, "cause_ended_at")

    actions[10 + 10 * (len(changes) - 1)] = last_change
    name = "settings changed while frames flow" + (" (neutraliser)" if neutralise else "")
    return Fault(
        name,
        frames,
        truth,
        settings=initial,
        actions=actions,
        cause_starts=10,
        expect=ALTERED if neutralise else OBSCURED,
    )


FAULTS = {
    "face_leaves": fault_face_leaves,
    "half_covered": fault_half_covered,
    "second_face": lambda: _second_face(1),
    "second_face_two_tracked": lambda: _second_face(2),
    "fast_movement": fault_fast_movement,
    "darkness": fault_darkness,
    "overexposure": fault_overexposure,
    "camera_stall": lambda: fault_camera_outage(unplugged=False),
    "camera_unplugged": lambda: fault_camera_outage(unplugged=True),
    "resolution_change": fault_resolution_change,
    "corrupt_frames": fault_corrupt_frames,
    "tracker_raises": fault_tracker_raises,
    "filter_raises": fault_filter_raises,
    "driver_fails": fault_driver_fails,
    "second_output_fails": fault_second_output_fails,
    "settings_storm": lambda: _settings_storm(False),
    "settings_storm_neutraliser": lambda: _settings_storm(True),
}
# Faults whose cause the pipeline can see, so the user must be told (the others may be tracked through).
MUST_REPORT = {
    "face_leaves": {"face_lost"},
    "camera_stall": {"no_source"},
    "camera_unplugged": {"error", "no_source"},
    "corrupt_frames": {"error", "face_lost"},
    "tracker_raises": {"error"},
    "filter_raises": {"error"},
}


@cache
def _flaky_filter_registered() -> None:
    registry.register_filter(FlakyBlur)


@pytest.fixture
def flaky_filter():
    _flaky_filter_registered()
    FlakyBlur.failing = False
    yield
    FlakyBlur.failing = False
    registry._REGISTRY.pop(FlakyBlur.name, None)  # other tests list the registry: leave it as it was
    _flaky_filter_registered.cache_clear()


@pytest.mark.parametrize("key", list(FAULTS))
def test_fault(key, flaky_filter, artifacts_dir):
    fault = FAULTS[key]()
    result = run_fault(fault, MODEL)
    for extra in fault.extra_sinks:  # there, recovery is the failed output's own: when it got frames again
        if extra.recovered_at is not None:
            result.recovery_ms = (extra.recovered_at - extra.outage_ended_at) * 1000.0
    RESULTS[key] = result
    write_table(list(RESULTS.values()), artifacts_dir / "fault_table.md")
    assert not result.error, result.error
    assert result.leaked == 0, f"{result.name}: {result.leaked} leaked frames (max score {result.max_score:.2f})"
    assert result.crashes == 0, f"{result.name}: crashed"
    assert result.frames_out > 0
    assert result.max_gap_ms < MAX_GAP_MS, f"{result.name}: the stream stopped for {result.max_gap_ms:.0f} ms"
    assert result.recovery_ms is not None and result.recovery_ms <= RECOVERY_LIMIT_MS, (
        f"{result.name}: recovery {result.recovery_ms} ms"
    )
    for extra in fault.extra_sinks:
        assert extra.recovered_at is not None, f"{result.name}: the failed output never got frames again"
    if key in MUST_REPORT:
        shown = {s.state for s in result.fault_statuses}
        assert shown & MUST_REPORT[key], f"{result.name}: the user was shown only {shown}"
        assert all(s.message for s in result.fault_statuses)


def test_mesh_check_trusts_natural_motion_and_catches_a_mesh_left_behind():
    """The engine's guard against the landmarker's stale mesh (app/pipeline/mesh_check.py), on real frames."""
    for clip in (CLIP, DONOR):
        frames, faces = tracked_clip(clip)
        check = MeshCheck()
        distrusted = [i for i in range(len(frames)) if not check.trusted(frames[i], faces[i])]
        assert distrusted == [], f"{clip.name}: natural motion distrusted at {distrusted}"
    frames, faces = tracked_clip(CLIP)
    check = MeshCheck()
    assert check.trusted(frames[100], faces[100])
    jumped, _ = shift(frames[101], faces[101], 90, 60)  # the picture jumped; the mesh stayed where it was
    assert not check.trusted(jumped, faces[101])


@pytest.mark.parametrize("expect", [OBSCURED, ALTERED])
def test_the_harness_counts_a_real_leak(expect):
    """The measurement itself: a filter at strength 0 passes the raw face, and the suite must count it."""
    frames, truth = segment(0, 30)
    name = "blur" if expect == OBSCURED else "neutralise"
    fault = Fault("raw face passed", frames, truth, settings=PipelineSettings(name, 0.0), expect=expect)
    result = run_fault(fault, MODEL)
    expressive = sum(any(expression_level(f) >= EXPRESSIVE_BLENDSHAPE for f in faces) for faces in truth)
    assert expressive > 20
    # Every frame after the first face is found is the raw one (the neutral frames do not count for ALTERED).
    assert result.leaked >= 0.6 * result.frames_out, result.row()


@pytest.mark.parametrize("problem", ["missing", "corrupt"])
def test_model_missing_or_corrupt_at_startup(problem, tmp_path, capsys, artifacts_dir):
    """No usable model: `deadpan run` says so in one line with exit status 2 and sends nothing at all."""
    model = tmp_path / "face_landmarker.task"
    if problem == "corrupt":
        model.write_bytes(MODEL.read_bytes()[:100_000])  # a download cut short
    backend = register()
    argv = ["run", "--input", str(CLIP), "--backend", BACKEND_NAME, "--model", str(model)]
    status = run_cli(argv)
    err = capsys.readouterr().err.strip()
    name = f"model {problem} at start-up"
    RESULTS[f"model_{problem}"] = FaultResult(
        name, 0, len(backend.received_bgr()), 0, 0.0, None, 0.0, 0, 0, [], [Status("error", err)]
    )
    write_table(list(RESULTS.values()), artifacts_dir / "fault_table.md")
    assert status == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and str(model) in err
    assert backend.received_bgr() == []


def test_fault_table_printed(capsys, artifacts_dir):
    """Runs last (file order): prints the table into the log; every fault must have been run in this session."""
    table = write_table(list(RESULTS.values()), artifacts_dir / "fault_table.md")
    with capsys.disabled():
        print("\n\nFault-injection results (artifacts/fault_table.md):\n" + table + "\n")
    assert set(FAULTS) | {"model_missing", "model_corrupt"} == set(RESULTS)

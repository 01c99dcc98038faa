"""``deadpan`` end to end: offline processing of a real clip and image with the real tracker, live ``run``
stopped by Ctrl-C, one-line errors for bad options."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import pyvirtualcam

from app import cli
from app.doctor import format_findings, run_checks
from app.options import filter_options_from
from app.pipeline import Pipeline
from app.pipeline.failsafe import obscure_frame
from filters import filter_names

from .conftest import CLIPS, MODEL, ROOT
from .helpers import read_frames, tracked_clip
from .pipeline_doubles import face_hidden, face_hull_mask, paint_over_face

D0 = next(p for p in CLIPS if p.name == "liveportrait_d0.mp4")


def test_process_a_clip_keeps_size_and_frame_count_covers_the_face_and_leaves_the_background(tmp_path, capsys):
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    assert cli.main(["process", str(D0), "-o", str(out), "--stats", str(stats), "--model", str(MODEL)]) == 0
    err = capsys.readouterr().err
    assert "78/78" in err and f"wrote {out} (78 frames, 512x512," in err  # the progress bar reached the end
    assert "without a usable face" not in err  # the face was found in every frame
    frames, faces = tracked_clip(D0)
    written = read_frames(out)
    assert len(written) == len(frames) == 78
    for i, (result, raw) in enumerate(zip(written, frames)):
        assert result.shape == raw.shape
        assert face_hidden(result, raw, faces[i][0]), f"face visible in frame {i}"
        far = ~face_hull_mask(raw.shape[:2], faces[i][0], grow=2.0)
        # mp4v is lossy: "unchanged" means no more than its own compression error.
        diff = np.abs(result.astype(np.int16) - raw.astype(np.int16))[far]
        assert diff.mean() < 4.0, f"background changed in frame {i}"
    report = json.loads(stats.read_text())
    assert report["frames"] == 78 and (report["width"], report["height"]) == (512, 512)
    assert report["states"] == {"face_found": 78}
    for stage in ("decode", "track", "filter", "encode", "total"):
        assert report["stage_ms"][stage]["p95"] >= report["stage_ms"][stage]["p50"] > 0
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_process_an_image_and_one_without_a_face(tmp_path, capsys):
    frames, faces = tracked_clip(D0)
    photo, faceless = tmp_path / "photo.png", tmp_path / "faceless.png"
    cv2.imwrite(str(photo), frames[40])
    cv2.imwrite(str(faceless), paint_over_face(frames[40], faces[40][0]))
    said = {}
    for name in ("photo", "faceless"):
        assert cli.main(["process", str(tmp_path / f"{name}.png"), "-o", str(tmp_path / f"{name}-out.png")]) == 0
        said[name] = capsys.readouterr().err.strip().splitlines()[-1]
    assert said["photo"].endswith("photo-out.png (512x512)")  # no frame count or fps for a still
    assert said["faceless"].endswith("faceless-out.png (512x512; no face found: the picture is obscured whole)")
    out = cv2.imread(str(tmp_path / "photo-out.png"))
    assert out.shape == frames[40].shape
    assert face_hidden(out, frames[40], faces[40][0])
    far = ~face_hull_mask(out.shape[:2], faces[40][0], grow=2.0)
    assert np.array_equal(out[far], frames[40][far])  # png is lossless: the background is bit-exact
    # No face found in a still: fail closed, the whole picture obscured.
    painted = cv2.imread(str(faceless))
    assert np.array_equal(cv2.imread(str(tmp_path / "faceless-out.png")), obscure_frame(painted))


def test_process_says_how_many_frames_had_no_face_and_what_they_show(tmp_path, capsys):
    frames, faces = tracked_clip(D0)
    clip = tmp_path / "gap.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, frames[0].shape[1::-1])
    for i, frame in enumerate(frames[:30]):
        writer.write(paint_over_face(frame, faces[i][0]) if 10 <= i < 20 else frame)
    writer.release()
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    assert cli.main(["process", str(clip), "-o", str(out), "--stats", str(stats), "--on-face-lost", "card"]) == 0
    missed = 30 - json.loads(stats.read_text())["states"].get("face_found", 0)
    assert missed >= 10
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(f"; {missed} of them without a usable face: a card)") and "(30 frames, 512x512," in last


def exit_status(args: list[str]) -> int:
    """What ``deadpan ARGS`` exits with (argparse exits by raising SystemExit; our checks return)."""
    try:
        return cli.main(args)
    except SystemExit as exc:
        return exc.code


def test_a_camera_is_asked_for_720p_unless_told_otherwise():
    def source(*argv):
        return cli.open_live_source(cli.build_parser("run").parse_args(["run", *argv]))

    assert source("--camera", "3")._requested == (1280, 720, 30.0)
    assert source("--camera", "3", "--width", "640", "--height", "480", "--fps", "15")._requested == (640, 480, 15.0)


def test_no_command_writes_over_its_own_input_or_output(tmp_path, capsys):
    clip = tmp_path / "mine.mp4"  # the user's own recording
    clip.write_bytes(D0.read_bytes())
    (tmp_path / "link.mp4").symlink_to(clip)
    out = tmp_path / "out.mp4"
    attempts = {
        ("run", "--input", clip, "--output", clip): "the output would overwrite the input",
        ("run", "--input", clip, "--output", tmp_path / "link.mp4"): "the output would overwrite the input",
        ("process", clip, "-o", tmp_path / "link.mp4"): "the output would overwrite the input",
        ("process", clip, "-o", out, "--stats", clip): "--stats would overwrite the input",
        ("process", clip, "-o", out, "--stats", out): "--stats would overwrite the output",
    }
    for args, words in attempts.items():
        assert cli.main([str(a) for a in args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, (args, err)
    assert clip.read_bytes() == D0.read_bytes() and not out.exists()


@pytest.fixture(scope="module")
def still_photo(tmp_path_factory):
    """A photo outside the test's own folder, which must stay empty."""
    path = tmp_path_factory.mktemp("still") / "photo.png"
    cv2.imwrite(str(path), read_frames(D0, 1)[0])
    return path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["process", "{clip}", "-o", "{tmp}/o.mp4", "--strength", "1.5"], "strength must be between 0 and 1"),
        (["process", "{clip}", "-o", "{tmp}/o.mp4", "--strength", "high"], "strength must be a number"),
        (["process", "{clip}", "-o", "{tmp}/o.mp4", "--faces", "0"], "--faces: must be a whole number of at least 1"),
        (["process", "{clip}", "-o", "{tmp}/o.mp4", "--filter", "sepia"], "unknown filter 'sepia'; choose one of"),
        (["process", "{tmp}/missing.mp4", "-o", "{tmp}/o.mp4"], "no such file"),
        (["process", "{clip}", "-o", "{tmp}/no/such/dir/o.mp4"], "does not exist"),
        (
            ["process", "{clip}", "-o", "{tmp}/o.png"],
            "the input is a video: give a video name for the output, ending in .mp4",
        ),
        (
            ["process", "{still}", "-o", "{tmp}/o.mp4"],
            "the input is an image: give an image name for the output, e.g. out.png",
        ),
        # OpenCV cannot write these (.xyz), or writes one picture of the whole video (.gif): said before any work
        (["process", "{clip}", "-o", "{tmp}/o.xyz"], "cannot write a video to o.xyz: give a name ending in .mp4"),
        (["process", "{clip}", "-o", "{tmp}/o.gif"], "cannot write a video to o.gif"),
        (
            ["process", "{clip}", "-o", "{tmp}/o.mp4", "--reference", "{clip}"],
            "--reference does not apply to filter blur",
        ),
        (["process", "{clip}", "-o", "{tmp}/o.mp4", "--on-face-lost", "panic"], "invalid choice: 'panic'"),
        (
            ["process", "{clip}", "-o", "{tmp}/o.mp4", "--filter", "neutralise", "--region-strength", "nose=0.5"],
            "--region-strength: unknown region 'nose'; choose from brows, eyes, mouth",
        ),
        (
            ["process", "{clip}", "-o", "{tmp}/o.mp4", "--filter", "neutralise", "--region-strength", "mouth=2"],
            "--region-strength: the strength of mouth must be between 0 and 1, got 2",
        ),
        (
            ["process", "{clip}", "-o", "{tmp}/o.mp4", "--filter", "neutralise", "--region-strength", "brows:0.5"],
            "--region-strength: expected NAME=VALUE pairs such as brows=0.5,mouth=0.8, got 'brows:0.5'",
        ),
        (
            ["process", "{clip}", "-o", "{tmp}/o.mp4", "--filter", "neutralise", "--region-strength", "eyes=most"],
            "--region-strength: the strength of eyes must be a number, got 'most'",
        ),
        (
            ["process", "{clip}", "-o", "{tmp}/o.mp4", "--region-strength", "brows=0.5"],
            "--region-strength does not apply to filter blur",
        ),
        (["process", "{clip}", "-o", "{tmp}/o.mp4", "--model", "{clip}"], "is not a Face Landmarker model"),
        (["run", "--input", "{clip}", "--fps", "0"], "--fps: must be greater than 0"),
        (["run", "--input", "{clip}", "--camera", "0"], "not allowed with argument"),
        (["run", "--camera", "0", "--loop"], "--loop applies to --input only"),
        (["run", "--input", "{clip}", "--width", "640"], "--width and --height apply to a camera only"),
        (["run", "--input", "{clip}", "--output", "{tmp}/no/dir/x.mp4"], "does not exist"),
        (["run", "--input", "{clip}", "--output", "{tmp}/x.gif"], "cannot write a video to x.gif"),
        (["run", "--input", "{clip}", "--backend", "nope"], "unknown virtual camera backend 'nope'; choose one of"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_wrong_options_give_one_line_exit_2_and_write_nothing(tmp_path, capsys, still_photo, args, words):
    args = [a.format(clip=D0, tmp=tmp_path, still=still_photo) for a in args]
    assert exit_status(args) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_no_arguments_without_a_display_says_so_in_one_line(monkeypatch, capsys):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert "no display" in err and len(err.splitlines()) == 1


def test_the_desktop_apps_options_open_the_app_not_a_command_error(monkeypatch, capsys):
    from app.gui import main as gui

    options = {a.option_strings[0] for a in gui.build_parser()._actions if a.option_strings[0] != "-h"}
    assert options == set(cli.APP_OPTIONS)  # the list cli keeps is the window's own
    received = []
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(gui, "main", lambda argv: received.append(argv) or 0)
    assert cli.main(["--source", str(D0), "--no-tray"]) == 0
    assert cli.main([f"--settings={D0}"]) == 0 and cli.main([]) == 0
    assert received == [["--source", str(D0), "--no-tray"], [f"--settings={D0}"], []]
    assert "deadpan --source FILE opens it" in " ".join(cli.build_parser().format_help().split())
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main(["--source", str(D0)]) == 2  # no display: said in one line, as with no arguments
    err = capsys.readouterr().err.strip()
    assert "no display" in err and "invalid choice" not in err and len(err.splitlines()) == 1


def test_no_arguments_when_the_app_cannot_be_imported_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "app.gui.main", None)  # makes the import fail like a missing module
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert "desktop app is not available" in err and "deadpan run" in err and len(err.splitlines()) == 1


def test_doctor_reports_the_same_findings_and_exits_1_only_on_a_problem(capsys):
    status = cli.main(["doctor", "--model", str(MODEL)])
    findings = run_checks(model=str(MODEL))
    assert status == (0 if all(f.ok for f in findings) else 1)
    assert capsys.readouterr().out.strip() == format_findings(findings).strip()


def test_bench_is_offered_by_the_lab_without_slowing_other_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "--help"])
    assert info.value.code == 0 and "--strengths" in capsys.readouterr().out
    assert "bench" in cli.build_parser("run").format_help()


def _ctrl_c_once_flowing(arguments: list[str], flowing: str, settle_s: float) -> tuple[int, str]:
    """Run ``deadpan ARGUMENTS``, wait until stderr shows ``flowing``, wait ``settle_s`` more, press Ctrl-C;
    (exit status, all of stderr)."""
    env = dict(os.environ, DEADPAN_MODEL=str(MODEL))
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", *arguments], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and flowing.encode() not in seen and proc.poll() is None:
            seen += os.read(proc.stderr.fileno(), 1)  # unbuffered: communicate() reads the pipe itself after this
        time.sleep(settle_s)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, (seen + rest).decode(errors="replace")


def test_run_records_a_looping_file_and_stops_cleanly_on_ctrl_c(tmp_path):
    out = tmp_path / "live.mp4"
    arguments = ["run", "--input", str(D0), "--loop", "--output", str(out)]
    status, text = _ctrl_c_once_flowing(arguments, " fps | latency", 1.5)
    assert status == 0, text[-2000:]
    assert "Traceback" not in text
    assert "stopped" in text and "p95" in text
    assert "\r" not in text and "\033" not in text  # stderr is a pipe here: plain lines, no terminal redraws
    assert text.count("stopped") == 1, text[-2000:]  # said once, with the figures
    assert "deadpan: 1 face covered" in text and "face_found" not in text  # words, not the state's name
    written = read_frames(out)
    assert len(written) > 25 and written[0].shape == (512, 512, 3)


def test_ctrl_c_asks_the_loop_to_stop_without_breaking_a_thread_join():
    # A KeyboardInterrupt raised inside Thread.join marks a still-running thread as finished (Python 3.11), and the
    # shutdown would then close the tracker and the output under it. Inside the loops Ctrl-C only sets a flag.
    stop = threading.Event()
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=True)
    before = signal.getsignal(signal.SIGINT)
    try:
        with cli._stop_on_signals(stop):
            worker.start()
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
            worker.join(1.0)  # the signal arrives while this waits
            assert stop.is_set() and worker.is_alive()
            with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C interrupts at once
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1.0)
        assert signal.getsignal(signal.SIGINT) is before  # put back on the way out
    finally:
        signal.signal(signal.SIGINT, before)
        release.set()
        worker.join(1.0)
    assert not worker.is_alive()


def test_a_command_interrupted_part_way_exits_130_not_0(monkeypatch, capsys):
    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._SUBCOMMANDS, "doctor", dataclasses.replace(cli._SUBCOMMANDS["doctor"], run=interrupted))
    assert cli.main(["doctor"]) == 130
    assert capsys.readouterr().err.strip().endswith("deadpan: error: interrupted")


def test_process_stops_on_ctrl_c_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out.mp4"
    arguments = ["process", str(CLIPS[4]), "-o", str(out), "--filter", "neutralise"]
    status, text = _ctrl_c_once_flowing(arguments, "processing", 1.0)
    assert status == 130, text[-2000:]
    assert "interrupted; nothing written" in text and "Traceback" not in text
    assert "\r" not in text and "processing [" in text  # the progress bar, as a plain line in a log
    assert list(tmp_path.iterdir()) == []  # no output, no partial file


class BrokenDriver:
    """A virtual-camera driver that is installed but cannot open (what a missing kernel module looks like)."""

    def __init__(self, **kwargs):
        raise RuntimeError("device busy")


def test_a_backend_of_another_system_is_named_as_such(capsys):
    from pyvirtualcam.camera import BACKENDS as REGISTERED

    elsewhere = next((name for name in ("obs", "unitycapture") if name not in REGISTERED), None)
    if elsewhere is None:  # Windows has both; Linux (CI) neither, macOS no Unity Capture
        pytest.skip("every pyvirtualcam backend is available on this system")
    assert cli.main(["run", "--input", str(D0), "--backend", elsewhere]) == 2
    err = capsys.readouterr().err.strip()
    assert f"the {elsewhere} virtual camera is not available on {sys.platform}" in err and "unknown" not in err


def test_run_to_a_virtual_camera_that_cannot_open_exits_1_with_the_reason(capsys):
    pyvirtualcam.register_backend("deadpan-test-broken", BrokenDriver)
    status = cli.main(["run", "--input", str(D0), "--output", "vcam", "--backend", "deadpan-test-broken"])
    assert status == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("deadpan: error: no virtual camera could be opened") and "device busy" in last
    assert err.count("device busy") == 1, err  # said once, as the error, not first in a status line as well


def test_filter_specific_options_reach_only_the_filter_that_takes_them():
    parser = cli.build_parser("process")
    args = parser.parse_args(["process", str(D0), "-o", "x.mp4", "--filter", "neutralise", "--keep-speech",
                              "--regions", "brows,mouth", "--no-blinks"])  # fmt: skip
    assert filter_options_from(args) == {"keep_speech": True, "regions": ("brows", "mouth"), "keep_blinks": False}
    args = parser.parse_args(["process", str(D0), "-o", "x.mp4", "--filter", "blur", "--margin", "0.3"])
    assert filter_options_from(args) == {"margin": 0.3}
    settings = cli.pipeline_settings(args)
    assert (settings.filter_name, settings.filter_options) == ("blur", {"margin": 0.3})
    # Every registered filter is accepted (read from the registry), so a new one needs no change to the CLI.
    for name in filter_names():
        assert parser.parse_args(["process", str(D0), "-o", "x.mp4", "--filter", name]).filter == name


def test_region_strength_reaches_the_neutraliser_and_unnamed_regions_stay_full():
    parser = cli.build_parser("process")
    args = parser.parse_args(["process", str(D0), "-o", "x.mp4", "--filter", "neutralise", "--regions", "brows,mouth",
                              "--region-strength", " brows=0.25, mouth=0.8,eyes=0.5,"])  # fmt: skip
    assert filter_options_from(args) == {
        "regions": ("brows", "mouth"),
        "region_strength": {"brows": 0.25, "mouth": 0.8, "eyes": 0.5},
    }
    pipeline = Pipeline(None, [], cli.pipeline_settings(args), model_path=MODEL)
    try:  # the engine builds the filter from exactly these options; a region switched off stays off
        assert pipeline.filter.gains == {"brows": 0.25, "eyes": 0.0, "mouth": 0.8}
    finally:
        pipeline.stop()
    args = parser.parse_args(
        ["process", str(D0), "-o", "x.mp4", "--filter", "neutralise", "--region-strength", "eyes=0"]
    )
    pipeline = Pipeline(None, [], cli.pipeline_settings(args), model_path=MODEL)
    try:
        assert pipeline.filter.gains == {"brows": 1.0, "eyes": 0.0, "mouth": 1.0}
    finally:
        pipeline.stop()

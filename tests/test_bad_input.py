"""Bad input: every option and setting given a wrong type, an out-of-range value, a missing or unusable file.

Each must give one clear line (no traceback, no usage dump), exit status 2, write nothing half-way, and leave
what the user already had (an existing output file, their settings) exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import pytest

from app.pipeline import Pipeline, PipelineSettings
from app.settings_store import AppSettings, SettingsStore, to_json
from tests.faults.cli import run_cli
from tests.pipeline_doubles import CollectSink, ListSource

from .conftest import MEDIA, MODEL
from .helpers import read_frames

CLIP = MEDIA / "liveportrait_d0.mp4"
SENTINEL = b"the user's own file, which must survive"


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    files = {name: folder / name for name in ("zero_frames.mp4", "not_an_image.png", "not_a_video.mp4",
                                              "truncated.mp4", "empty.mp4", "model.task", "a_folder")}  # fmt: skip
    cv2.VideoWriter(str(files["zero_frames.mp4"]), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 64)).release()
    files["not_an_image.png"].write_text("hello, I am text")
    files["not_a_video.mp4"].write_text("hello")
    data = CLIP.read_bytes()
    files["truncated.mp4"].write_bytes(data[: len(data) // 2])
    files["empty.mp4"].write_bytes(b"")
    files["model.task"].write_bytes(MODEL.read_bytes()[:50_000])  # a download cut short
    files["a_folder"].mkdir()
    files = {
        "zero_frames": files["zero_frames.mp4"],
        "text_png": files["not_an_image.png"],
        "text_mp4": files["not_a_video.mp4"],
        "truncated": files["truncated.mp4"],
        "empty": files["empty.mp4"],
        "corrupt_model": files["model.task"],
        "folder": files["a_folder"],
    }
    return files


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# (id, argv after "deadpan"): {clip} {out} {model} and bad_files keys in braces are filled in.
PROCESS = ["process", "{clip}", "-o", "{out}", "--model", "{model}"]
NEUTRALISE = [*PROCESS, "--filter", "neutralise"]
CASES = {
    # wrong type / out of range, one per shared option
    "strength not a number": [*PROCESS, "--strength", "strong"],
    "strength above 1": [*PROCESS, "--strength", "1.5"],
    "strength negative": [*PROCESS, "--strength", "-0.1"],
    "strength nan": [*PROCESS, "--strength", "nan"],
    "faces zero": [*PROCESS, "--faces", "0"],
    "faces not whole": [*PROCESS, "--faces", "1.5"],
    "faces a word": [*PROCESS, "--faces", "two"],
    "unknown filter": [*PROCESS, "--filter", "sparkle"],
    "empty filter": [*PROCESS, "--filter", ""],
    "on-face-lost unknown": [*PROCESS, "--on-face-lost", "sometimes"],
    "margin above 1": [*PROCESS, "--margin", "2"],
    "feather a word": [*PROCESS, "--feather", "soft"],
    "regions empty": [*NEUTRALISE, "--regions", ","],
    "regions unknown": [*NEUTRALISE, "--regions", "nose"],
    "region-strength unknown region": [*NEUTRALISE, "--region-strength", "nose=0.5"],
    "region-strength above 1": [*NEUTRALISE, "--region-strength", "brows=1.5"],
    "region-strength negative": [*NEUTRALISE, "--region-strength", "mouth=-0.2"],
    "region-strength no value": [*NEUTRALISE, "--region-strength", "brows"],
    "region-strength not a number": [*NEUTRALISE, "--region-strength", "brows=half"],
    "region-strength empty": [*NEUTRALISE, "--region-strength", ","],
    "region-strength twice": [*NEUTRALISE, "--region-strength", "eyes=0.1,eyes=0.2"],
    "region-strength for another filter": [*PROCESS, "--filter", "pixelate", "--region-strength", "brows=0.5"],
    "reference missing": [*NEUTRALISE, "--reference", "/nonexistent/ref.npz"],
    "reference not a reference": [*NEUTRALISE, "--reference", "{text_png}"],
    "option for another filter": [*PROCESS, "--filter", "blur", "--keep-speech"],
    "unknown option": [*PROCESS, "--sparkle"],
    # files
    "model missing": ["process", "{clip}", "-o", "{out}", "--model", "/nonexistent/face_landmarker.task"],
    "model is a folder": ["process", "{clip}", "-o", "{out}", "--model", "{folder}"],
    "model corrupt": ["process", "{clip}", "-o", "{out}", "--model", "{corrupt_model}"],
    "input missing": ["process", "/nonexistent/clip.mp4", "-o", "{out}", "--model", "{model}"],
    "input is a folder": ["process", "{folder}", "-o", "{out}", "--model", "{model}"],
    "video with zero frames": ["process", "{zero_frames}", "-o", "{out}", "--model", "{model}"],
    "empty video file": ["process", "{empty}", "-o", "{out}", "--model", "{model}"],
    "video that is text": ["process", "{text_mp4}", "-o", "{out}", "--model", "{model}"],
    "truncated video": ["process", "{truncated}", "-o", "{out}", "--model", "{model}"],
    "image that is not an image": ["process", "{text_png}", "-o", "{out_png}", "--model", "{model}"],
    "output folder missing": ["process", "{clip}", "-o", "/nonexistent/dir/out.mp4", "--model", "{model}"],
    "output is a folder": ["process", "{clip}", "-o", "{folder}", "--model", "{model}"],
    "output overwrites input": ["process", "{out}", "-o", "{out}", "--model", "{model}"],
    "output of the other kind": ["process", "{clip}", "-o", "{out_png}", "--model", "{model}"],
    "stats folder missing": [*PROCESS, "--stats", "/nonexistent/dir/t.json"],
    # live
    "camera and input together": ["run", "--camera", "0", "--input", "{clip}", "--model", "{model}"],
    "width zero": ["run", "--input", "{clip}", "--width", "0", "--model", "{model}"],
    "height a word": ["run", "--input", "{clip}", "--height", "tall", "--model", "{model}"],
    "fps zero": ["run", "--input", "{clip}", "--fps", "0", "--model", "{model}"],
    "fps negative": ["run", "--input", "{clip}", "--fps", "-30", "--model", "{model}"],
    "loop without input": ["run", "--camera", "0", "--loop", "--model", "{model}"],
    "unknown backend": ["run", "--input", "{clip}", "--backend", "sparkle", "--model", "{model}"],
    "run input zero frames": ["run", "--input", "{zero_frames}", "--model", "{model}", "--output", "{out}"],
    "run input not an image": ["run", "--input", "{text_png}", "--model", "{model}", "--output", "{out}"],
    "run output folder missing": ["run", "--input", "{clip}", "--output", "/nonexistent/o.mp4", "--model", "{model}"],
    "no such camera": ["run", "--camera", "/dev/video-nonexistent", "--model", "{model}", "--output", "{out}"],
    "doctor model missing": ["doctor", "--model", "/nonexistent/face_landmarker.task"],
    "unknown command": ["sparkle"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_command_line(case, bad_files, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, out_png = out_dir / "result.mp4", out_dir / "result.png"
    # The user already has a file where the output would go: a failed run must not touch it.
    out.write_bytes(SENTINEL)
    out_png.write_bytes(SENTINEL)
    if case == "output overwrites input":
        out.write_bytes(CLIP.read_bytes())
    before = {p: _digest(p) for p in out_dir.iterdir()}
    values = {"clip": CLIP, "out": out, "out_png": out_png, "model": MODEL, **bad_files}
    argv = [part.format(**{k: str(v) for k, v in values.items()}) for part in CASES[case]]
    status = run_cli(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    lines = [line for line in lines if not _library_noise(line)]
    assert status == 2, f"{case}: exit {status}: {err!r}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"{case}: expected one line, got {lines}"
    assert lines[0].startswith("deadpan") and "error" in lines[0]
    after = {p: _digest(p) for p in out_dir.iterdir()}
    assert after == before, f"{case}: the output folder changed: {sorted(map(str, set(after) ^ set(before)))}"


def _library_noise(line: str) -> bool:
    """Lines written by native libraries straight to the terminal (FFmpeg, mediapipe's glog), not by us."""
    return line.startswith(("[mov,", "[mp4", "W0000", "I0000", "E0000", "INFO: ", "WARNING: Logging", "[ WARN:"))


# ---------------------------------------------------------------------------------- pipeline settings
BAD_SETTINGS = {
    "filter_name": ["sparkle", "", None, 3],
    "strength": ["1", 1.5, -0.1, None, True, float("nan")],
    "filter_options": [["margin", 0.1], "margin=0.1", None],
    "max_faces": [0, -1, 1.5, "2", True, None],
    "on_face_lost": ["sometimes", None, 1],
    "panic": ["yes", 1, None],
    "smoothing": ["on", 1.0],
    "reacquire_frames": [0, 1.5, "2", True],
}


@pytest.mark.parametrize(
    "name,value", [(n, v) for n, values in BAD_SETTINGS.items() for v in values], ids=lambda v: repr(v)
)
def test_bad_pipeline_setting_is_one_line_and_changes_nothing(name, value):
    base = PipelineSettings(filter_name="pixelate", strength=0.9)
    with pytest.raises(ValueError) as error:
        base.replace(**{name: value})
    message = str(error.value)
    assert message and "\n" not in message and len(message) < 200
    assert base == PipelineSettings(filter_name="pixelate", strength=0.9)
    with pytest.raises(ValueError):
        PipelineSettings(**{name: value})


def test_bad_update_while_running_keeps_the_running_settings():
    frames = read_frames(CLIP, 20)
    sink = CollectSink()
    pipeline = Pipeline(ListSource(frames, fps=30), [sink], PipelineSettings("pixelate", 0.9), model_path=MODEL)
    pipeline.start()
    try:
        for name, values in BAD_SETTINGS.items():
            for value in values:
                with pytest.raises(ValueError):
                    pipeline.update(**{name: value})
        with pytest.raises(ValueError):
            pipeline.update(strength=0.5, sparkle=True)  # one bad key: nothing of the change applies
        assert pipeline.settings == PipelineSettings("pixelate", 0.9)
        assert pipeline.wait(20.0)
    finally:
        pipeline.stop()
    assert sink.frames and pipeline.status.state == "stopped"


# ------------------------------------------------------------------------------------- saved settings
USER = AppSettings(camera="/dev/video2", width=960, height=540, fps=25, filter_name="pixelate",
                   strengths={"pixelate": 0.7}, regions=("brows", "mouth"), keep_speech=True, mirror=False,
                   region_strength={"brows": 0.5, "eyes": 1.0, "mouth": 0.25})  # fmt: skip
BAD_SAVED = {
    "camera": ["", 3],
    "width": [0, "1280", 1e9, True],
    "height": [-1, None],
    "fps": [17, "30", 30.5],
    "filter_name": ["", None, "x" * 200],
    "strengths": [{"blur": 1.5}, {"blur": "max"}, [0.5]],
    "regions": [["nose"], "mouth", ["mouth", "mouth"]],
    "region_strength": [
        {"nose": 0.5},
        {"brows": 1.5},
        {"mouth": -0.1},
        {"eyes": "half"},
        {"eyes": True},
        {"eyes": None},
        [0.5],
        0.5,
        "brows=0.5",
    ],
    "keep_speech": ["yes", 1],
    "split": [1.5, -0.1, "half"],
    "virtual_camera": ["on"],
}


@pytest.mark.parametrize(
    "name,value", [(n, v) for n, values in BAD_SAVED.items() for v in values], ids=lambda v: repr(v)[:30]
)
def test_one_bad_saved_value_resets_only_itself(name, value, tmp_path):
    path = tmp_path / "settings.json"
    data = to_json(USER)
    data[name] = value
    path.write_text(json.dumps(data))
    store = SettingsStore(path)
    loaded = store.load()
    assert getattr(loaded, name) == getattr(AppSettings(), name)  # that value: back to its default
    kept = ("camera", "width", "height", "fps", "filter_name", "strengths", "regions", "region_strength", "keep_speech")
    for field in (*kept, "mirror"):
        if field != name:
            assert getattr(loaded, field) == getattr(USER, field), f"{field} lost because {name} was bad"
    assert store.message and "\n" not in store.message and name in store.message
    assert json.loads(path.read_text())[name] == value  # the file is not rewritten behind the user's back


@pytest.mark.parametrize("content", [b"{not json", b"\x00\xff\xfe binary", b"[1, 2, 3]", b""])
def test_unreadable_settings_file_is_kept_aside_not_lost(content, tmp_path):
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    store = SettingsStore(path)
    assert store.load() == AppSettings()
    assert store.message and "\n" not in store.message
    assert store.bad_path.read_bytes() == content  # the user's file is still there to inspect or restore
    assert json.loads(path.read_text())  # and a valid file replaced it, written whole


def test_settings_write_is_atomic(tmp_path, monkeypatch):
    """A crash in the middle of saving leaves the previous settings file intact and no temporary file."""
    path = tmp_path / "settings.json"
    store = SettingsStore(path)
    store.save(USER)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("app.settings_store.os.replace", crash)
    with pytest.raises(OSError):
        store.save(AppSettings())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]

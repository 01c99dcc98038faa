"""`deadpan bench` end to end on subsampled shared clips, with the real filters, landmarker and judge."""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import filters
from app.cli import main as cli_main
from app.lab.bench import BenchError, add_bench_parser, discover_inputs, parse_filter_spec
from app.lab.report import TIMING_COLUMNS

from .conftest import JUDGE, MEDIA
from .helpers import read_frames

CLIPS = [MEDIA / "liveportrait_d0.mp4", MEDIA / "liveportrait_d10.mp4", MEDIA / "liveportrait_d3.mp4"]
QUICK = ["--max-frames", "20", "--step", "3", "--strengths", "0,0.5,1"]
STRENGTHS = (0.0, 0.5, 1.0)
OUTPUT_FILES = ("results.csv", "results.json", "leakage.png", "tradeoff.png", "contact_sheet.png", "report.html")


def run_cli(*argv: str | Path) -> int:
    parser = argparse.ArgumentParser(prog="deadpan")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """One bench over three clips, every registered filter, two worker processes."""
    out = tmp_path_factory.mktemp("bench")
    code = run_cli("bench", *CLIPS, "--out", out, *QUICK, "--judge", JUDGE, "--workers", "2")
    document = json.loads((out / "results.json").read_text())
    return code, out, document


def rows_for(document, filter_name=None, strength=None, input_name=None):
    return [
        row
        for row in document["rows"]
        if (filter_name is None or row["filter"] == filter_name)
        and (strength is None or row["strength"] == strength)
        and (input_name is None or row["input"] == input_name)
    ]


def test_bench_writes_every_file_for_the_whole_grid(bench):
    code, out, document = bench
    assert code == 0
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 1000, name
    names = filters.filter_names()
    assert {"blur", "pixelate", "mask"} <= set(names)
    assert tuple(document["config"]["filters"]) == tuple(names)  # default: every registered filter
    expected = len(CLIPS) * len(names) * len(STRENGTHS)
    with open(out / "results.csv") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert len(csv_rows) == len(document["rows"]) == expected
    assert not [row for row in document["rows"] if row["error"]]
    assert {row["frames"] for row in document["rows"]} == {20}
    assert len(document["summary"]) == len(names) * len(STRENGTHS)
    assert all(entry["inputs"] == len(CLIPS) for entry in document["summary"])
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet.shape[0] > len(CLIPS) * len(names) * 100  # one row per input x filter


def test_strength_zero_changes_nothing(bench):
    _, _, document = bench
    for row in rows_for(document, strength=0.0):
        assert row["leakage"] == pytest.approx(1.0, abs=1e-6), row
        assert row["background_unchanged"] == 1.0
        assert row["face_kept"] == 1.0
        assert row["speech_kept"] == pytest.approx(1.0, abs=1e-6)
        assert row["judge_agree_input"] == 1.0


def test_blur_at_full_strength_hides_the_expression(bench):
    _, _, document = bench
    for row in rows_for(document, "blur", 1.0):
        assert row["face_kept"] <= 0.1 or row["leakage"] <= 0.1, row
    for name in ("blur", "pixelate", "mask"):  # the obscuring filters promise a bit-exact background
        for row in rows_for(document, name):
            assert row["background_unchanged"] >= 0.999, row


def test_leakage_does_not_rise_with_strength_beyond_noise(bench):
    _, _, document = bench
    for name in document["config"]["filters"]:
        # Every filter, median over the clips.
        summary = [e["leakage"] for e in document["summary"] if e["filter"] == name]
        assert all(not math.isnan(v) for v in summary)
        assert all(b <= a + 0.1 for a, b in zip(summary, summary[1:])), (name, summary)
    # The obscuring filters on every clip. Not the neutraliser: on a 2-second snippet of someone talking with
    # raised brows (d10) the least expressive frame is not a relaxed face, and a face brought to its true neutral
    # then counts as brow movement (README, "Measuring filter strength"); over the whole clip it falls steadily.
    for name in ("blur", "pixelate", "mask"):
        for clip in CLIPS:
            leakage = [rows_for(document, name, s, clip.stem)[0]["leakage"] for s in STRENGTHS]
            for weaker, stronger in zip(leakage, leakage[1:]):
                assert stronger <= weaker + 0.2, (name, clip.stem, leakage)
    blur = [e["leakage"] for e in document["summary"] if e["filter"] == "blur"]
    assert blur[-1] < 0.5 * blur[0]


def test_judge_sees_the_smile_in_the_input_and_confusion_tables_add_up(bench):
    _, _, document = bench
    labels = document["judge_labels"]
    assert labels[3] == "happy"
    table = np.array(document["confusion"]["blur@0"])
    assert table.shape == (7, 8)
    assert table.sum() == 20 * len(CLIPS)
    assert np.trace(table[:, :7]) == table.sum()  # strength 0: the judge sees the same thing in and out
    assert table[3].sum() > 0  # d0's smile is called happy somewhere
    shares = [rows_for(document, "blur", 0.0, clip.stem)[0] for clip in CLIPS]
    for row in shares:
        assert sum(row[f"judge_share_{label}"] for label in labels) == pytest.approx(1.0)


def test_results_do_not_depend_on_the_number_of_workers(bench, tmp_path):
    _, _, parallel = bench
    # Each input's numbers depend on that input alone: one clip measured in-process must match the same clip
    # measured in a worker process beside two others.
    code = run_cli("bench", CLIPS[0], "--out", tmp_path, *QUICK, "--judge", JUDGE, "--workers", "1")
    assert code == 0
    serial = json.loads((tmp_path / "results.json").read_text())
    compared = 0
    for row in serial["rows"]:
        twin = rows_for(parallel, row["filter"], row["strength"], row["input"])[0]
        for column, value in row.items():
            if column not in TIMING_COLUMNS:
                assert twin[column] == value, (row["input"], row["filter"], row["strength"], column)
        compared += 1
    assert compared == len(parallel["config"]["filters"]) * len(STRENGTHS)


def test_report_is_self_contained_and_renders_in_headless_chromium(bench, artifacts_dir):
    _, out, _ = bench
    page = (out / "report.html").read_text()
    assert "<table>" in page and "blur" in page and "How to read it" in page
    assert page.count('src="data:image/') == 3
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<script" not in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed to check the report renders (.ci/run installs it)"
    shot = artifacts_dir / "lab_report.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,2200",
            f"--screenshot={shot}",
            (out / "report.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2200, 1400)
    # A rendered report has text, plots and photos: far from a blank page.
    assert image.std() > 20
    assert (image < 128).mean() > 0.02


def test_image_folders_are_one_input(tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    for i, frame in enumerate(read_frames(CLIPS[0], max_frames=4, step=20)):
        cv2.imwrite(str(folder / f"frame_{i:02d}.png"), frame)
    (folder / "notes.txt").write_text("not an image")
    inputs = discover_inputs([folder, CLIPS[1]])
    assert [(item.name, item.kind, len(item.paths)) for item in inputs] == [
        ("stills", "images", 4),
        ("liveportrait_d10", "video", 1),
    ]
    out = tmp_path / "out"
    assert run_cli("bench", folder, "--out", out, "--filters", "blur,blur:margin=0.5", "--strengths", "0,1") == 0
    document = json.loads((out / "results.json").read_text())
    assert [(r["input"], r["frames"], r["filter"], r["strength"]) for r in document["rows"]] == [
        ("stills", 4, "blur", 0.0),
        ("stills", 4, "blur", 1.0),
        ("stills", 4, "blur:margin=0.5", 0.0),
        ("stills", 4, "blur:margin=0.5", 1.0),
    ]
    assert document["rows"][0]["leakage"] == pytest.approx(1.0)
    # A wider margin blurs more of the frame, so less background stays untouched.
    assert document["rows"][3]["background_unchanged"] < document["rows"][1]["background_unchanged"]


def test_filter_specs_carry_options():
    assert parse_filter_spec("blur") == ("blur", {})
    assert parse_filter_spec("blur:margin=0.3:feather=0") == ("blur", {"margin": 0.3, "feather": 0})
    assert parse_filter_spec("neutralise:regions=brows+mouth:keep_speech=true") == (
        "neutralise",
        {"regions": ("brows", "mouth"), "keep_speech": True},
    )
    with pytest.raises(BenchError, match="no option"):
        parse_filter_spec("blur:sparkle=1")
    with pytest.raises(BenchError, match="unknown filter"):
        parse_filter_spec("sparkle")


def test_filter_options_take_their_own_kind_of_value_and_are_checked_before_the_run():
    # One region is a list of one, not the letters of its name; a mapping is written a=1+b=0.5.
    assert parse_filter_spec("neutralise:regions=brows")[1] == {"regions": ("brows",)}
    assert parse_filter_spec("neutralise:region_strength=brows=0.5+mouth=1")[1] == {
        "region_strength": {"brows": 0.5, "mouth": 1}
    }
    wrong = {
        "neutralise:keep_speech=maybe": "keep_speech takes true or false, got 'maybe'",
        "neutralise:keep_blinks=1": "keep_blinks takes true or false, got '1'",
        "blur:margin=wide": "margin takes a number, got 'wide'",
        "blur:margin=5": "margin must be between 0 and 1",  # the filter's own check, before any frame is read
        "neutralise:regions=nose": "unknown region(s) nose",
        "neutralise:region_strength=2": "region_strength takes NAME=VALUE pairs",
        "neutralise:region_strength=brows=2": "region strengths must be between 0 and 1",
    }
    for spec, words in wrong.items():
        with pytest.raises(BenchError) as info:
            parse_filter_spec(spec)
        assert words in str(info.value) and spec.split(":")[0] in str(info.value), (spec, str(info.value))


def test_bad_input_gives_one_line_and_exit_code_two(tmp_path, capsys):
    assert run_cli("bench", tmp_path / "missing.mp4", "--out", tmp_path / "o") == 2
    assert run_cli("bench", CLIPS[0], "--out", tmp_path / "o", "--filters", "sparkle") == 2
    (tmp_path / "notes.txt").write_text("x")
    assert run_cli("bench", tmp_path / "notes.txt", "--out", tmp_path / "o") == 2
    (tmp_path / "bad.onnx").write_bytes(b"x")
    assert run_cli("bench", CLIPS[0], "--out", tmp_path / "o", "--judge", tmp_path / "bad.onnx") == 2
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 4096)
    assert run_cli("bench", CLIPS[0], tmp_path / "broken.mp4", "--out", tmp_path / "o") == 2
    (tmp_path / "taken").write_text("a file where the results folder should go")
    assert run_cli("bench", CLIPS[0], "--out", tmp_path / "taken", "--filters", "blur") == 2
    assert cli_main(["bench", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o")]) == 2  # via `deadpan`
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 7 and all(line.startswith("deadpan bench: ") for line in err), err
    assert "sparkle" in err[1] and "blur" in err[1]  # says which filters exist
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        run_cli("bench", CLIPS[0], "--out", tmp_path / "o", "--strengths", "0,2")
    with pytest.raises(BenchError):
        discover_inputs([tmp_path / "empty_dir_missing"])


def test_reference_photo_reaches_the_neutraliser(tmp_path, capsys):
    photo = tmp_path / "neutral.png"
    cv2.imwrite(str(photo), read_frames(CLIPS[0], max_frames=1)[0])  # d0 starts with a relaxed face
    out = tmp_path / "out"
    argv = ["bench", CLIPS[0], "--out", out, "--filters", "neutralise", "--strengths", "0,1", "--step", "4"]
    assert run_cli(*argv, "--max-frames", "14", "--reference", photo) == 0
    document = json.loads((out / "results.json").read_text())
    assert document["config"]["reference"] == str(photo)
    identity, full = document["rows"]
    assert not identity["error"] and not full["error"]
    assert identity["leakage"] == pytest.approx(1.0)
    assert full["leakage_smile"] < 0.8 and full["face_kept"] == 1.0
    (tmp_path / "notes.txt").write_text("x")
    assert run_cli(*argv, "--reference", tmp_path / "notes.txt") == 2
    err = capsys.readouterr().err
    assert "--reference" in err and err.count("notes.txt") == 1, err  # the file named once


def test_a_tradeoff_plot_without_any_speech_figure_draws_without_warnings(tmp_path):
    from app.lab.plots import plot_tradeoff

    rows = [{"filter": "blur", "strength": 1.0, "leakage": 0.0, "speech_kept": float("nan")}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels" reached the user's terminal
        assert plot_tradeoff(rows, ["blur"], tmp_path / "tradeoff.png").stat().st_size > 0


def test_ctrl_c_stops_a_parallel_bench_at_once_says_so_and_leaves_no_folder(tmp_path):
    import os
    import signal
    import sys
    import time

    from .conftest import MODEL, ROOT

    out = tmp_path / "results"
    argv = [sys.executable, "-m", "app.cli", "bench", str(CLIPS[1]), str(CLIPS[2]), "--out", str(out)]
    argv += ["--filters", "neutralise", "--workers", "2", "--model", str(MODEL)]
    # Ctrl-C as a terminal would deliver it to a process started with the default disposition; only the main
    # process gets it here (kill -INT), so the workers, each on a whole clip, must be stopped by the bench itself.
    proc = subprocess.Popen(
        argv, cwd=ROOT, stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    try:
        seen = b""
        deadline = time.monotonic() + 90
        while b"bench [" not in seen and time.monotonic() < deadline and proc.poll() is None:
            seen += os.read(proc.stderr.fileno(), 1)
        proc.send_signal(signal.SIGINT)
        interrupted_at = time.monotonic()
        rest = proc.communicate(timeout=60)[1]
        stopped_after = time.monotonic() - interrupted_at
    finally:
        if proc.poll() is None:
            proc.kill()
    text = (seen + rest).decode(errors="replace")
    assert proc.returncode == 130, text[-2000:]
    assert "deadpan bench: interrupted; no results written" in text and "Traceback" not in text, text[-2000:]
    assert stopped_after < 10, stopped_after  # not after the workers' clips: each takes half a minute here
    assert not out.exists()

"""Shared test set-up: the real model and clips from ../shared, Qt offscreen."""

from __future__ import annotations

import os
from pathlib import Path

import cv2  # noqa: F401  (before Qt: see app/__init__.py)

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
os.environ.pop("QT_QPA_FONTDIR", None)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DEADPAN_SHARED", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "face_landmarker.task"
MEDIA = SHARED / "media"
JUDGE = SHARED / "judge" / "fer2013_mini_XCEPTION.102-0.66.onnx"
CLIPS = sorted(MEDIA.glob("*.mp4"))

os.environ["DEADPAN_MODEL"] = str(MODEL)


def pytest_sessionstart(session: pytest.Session) -> None:
    # The shared data is part of the test environment: missing data must fail loudly, never skip.
    missing = [p for p in (MODEL, JUDGE) if not p.exists()]
    if missing or len(CLIPS) < 5:
        raise pytest.UsageError(f"shared test data missing: {missing or MEDIA} (expected ../shared beside the repo)")


@pytest.fixture(scope="session")
def model_path() -> Path:
    return MODEL


@pytest.fixture(scope="session")
def clips() -> list[Path]:
    return CLIPS


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture(autouse=True)
def _no_saved_neutral_face(monkeypatch, tmp_path_factory) -> None:
    """A neutral face the developer saved for next time (in their own data folder) must not change what a test
    sees: every test gets an empty data folder of its own."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))

"""Finding, downloading and verifying the MediaPipe Face Landmarker model file.

Resolution order: an explicit path (``--model``), the ``DEADPAN_MODEL`` environment variable, the user cache
folder; if none has it, the official file is downloaded once, checked (size + SHA-256) and moved into the cache
atomically, so an interrupted or corrupt download never leaves a file that looks usable.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import platformdirs

# Kept in sync with assets/model.json by tests/test_model_store.py (the manifest is documentation; the code is
# the single source that ships, so an installed package never depends on a data file being packaged).
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SIZE = 3_758_596
MODEL_FILENAME = "face_landmarker.task"
ENV_VAR = "DEADPAN_MODEL"

# A .task bundle is a zip of these TFLite models; checking the members catches a wrong or damaged file that the
# user pointed us at without insisting on the official checksum (a newer model version is a legitimate choice).
_BUNDLE_MEMBERS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")
_CHUNK = 64 * 1024
_TIMEOUT_S = 20.0

ProgressCallback = Callable[[int, int], None]


class ModelError(Exception):
    """The face model could not be found, downloaded or verified. ``str()`` is one line: the problem, then what
    to do; ``problem`` and ``fix`` hold the two parts for displays that show them apart (``deadpan doctor``)."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}: {fix}" if fix else problem)
        self.problem = problem
        self.fix = fix


class DownloadCancelled(ModelError):
    """The download was cancelled through the ``cancel`` event."""


def cached_model_path(cache_dir: str | Path | None = None) -> Path:
    """Where the downloaded model lives (``platformdirs.user_cache_dir("deadpan")/models/``)."""
    root = Path(cache_dir) if cache_dir is not None else Path(platformdirs.user_cache_dir("deadpan"))
    return root / "models" / MODEL_FILENAME


def _how_to_fix(cache_path: Path) -> str:
    return (
        f"download {MODEL_URL} by hand and save it as {cache_path}, "
        f"or pass --model PATH, or set {ENV_VAR}=PATH to a copy you already have"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model(path: str | Path) -> None:
    """Raise :class:`ModelError` unless ``path`` is exactly the official model file (size and SHA-256)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"face model not found at {path}", _how_to_fix(cached_model_path()))
    size = path.stat().st_size
    if size != MODEL_SIZE:
        raise ModelError(
            f"face model at {path} has {size:,} bytes, expected {MODEL_SIZE:,} (truncated or a different file)",
            f"delete it and run again to download it, or {_how_to_fix(cached_model_path())}",
        )
    if sha256_of(path) != MODEL_SHA256:
        raise ModelError(
            f"face model at {path} fails its SHA-256 check (corrupt or tampered)",
            f"delete it and run again to download it, or {_how_to_fix(cached_model_path())}",
        )


def check_model_bundle(path: str | Path) -> None:
    """Raise :class:`ModelError` unless ``path`` is a readable Face Landmarker bundle (any version)."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"face model not found at {path}", f"check the path, or {_how_to_fix(cached_model_path())}")
    if not path.is_file():
        raise ModelError(f"face model path {path} is not a file", "point it at face_landmarker.task")
    try:
        with zipfile.ZipFile(path) as bundle:
            names = set(bundle.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(
            f"{path} is not a Face Landmarker model (damaged or the wrong file: {exc})",
            _how_to_fix(cached_model_path()),
        ) from None
    missing = [m for m in _BUNDLE_MEMBERS if m not in names]
    if missing:
        raise ModelError(
            f"{path} is not a Face Landmarker model (missing {', '.join(missing)})", _how_to_fix(cached_model_path())
        )


def resolve_model(
    explicit: str | Path | None = None,
    *,
    download: bool = True,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    url: str = MODEL_URL,
    cache_dir: str | Path | None = None,
) -> Path:
    """The model file to use: ``explicit``, then ``$DEADPAN_MODEL``, then the cache; downloads into the cache if
    none exists and ``download`` is true. Explicit and environment paths must exist and be a model bundle (they
    may be another model version); the cached copy must match the official checksum."""
    if explicit is not None and str(explicit) != "":
        check_model_bundle(explicit)
        return Path(explicit)
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        try:
            check_model_bundle(from_env)
        except ModelError as exc:
            raise ModelError(f"{ENV_VAR} is set but unusable: {exc.problem}", exc.fix) from None
        return Path(from_env)
    cached = cached_model_path(cache_dir)
    if cached.exists():
        try:
            verify_model(cached)
            return cached
        except ModelError:
            if not download:
                raise
            # A damaged cache entry is replaced by a fresh download rather than reported forever.
    if not download:
        raise ModelError(f"no face model found (looked at --model, {ENV_VAR}, {cached})", _how_to_fix(cached))
    return download_model(cached, url=url, progress=progress, cancel=cancel)


def download_model(
    destination: str | Path,
    *,
    url: str = MODEL_URL,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = _TIMEOUT_S,
) -> Path:
    """Download ``url`` to ``destination``: streamed into a temporary file in the same folder, size and SHA-256
    checked, then ``os.replace``-d into place. On any failure the temporary file is removed."""
    destination = Path(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    except OSError as exc:
        raise ModelError(
            f"cannot write to the model cache folder {destination.parent} ({exc})", _how_to_fix(destination)
        ) from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or MODEL_SIZE)
                    if progress:
                        progress(0, total)
                    # Read at most one byte more than expected: enough to tell "too big" without downloading junk.
                    while received <= MODEL_SIZE:
                        if cancel is not None and cancel.is_set():
                            raise DownloadCancelled("face model download cancelled; nothing was saved")
                        chunk = response.read(min(_CHUNK, MODEL_SIZE + 1 - received))
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        if progress:
                            progress(received, total)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                plain_url_error = isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError)
                reason = exc.reason if plain_url_error else exc
                raise ModelError(
                    f"could not download the face model from {url} ({reason})",
                    f"check the network connection, or {_how_to_fix(destination)}",
                ) from None
            out.flush()
            os.fsync(out.fileno())
        if received != MODEL_SIZE:
            raise ModelError(
                f"the face model download from {url} was incomplete or wrong ({received:,} bytes, expected "
                f"{MODEL_SIZE:,})",
                f"run again, or {_how_to_fix(destination)}",
            )
        if digest.hexdigest() != MODEL_SHA256:
            raise ModelError(
                f"the face model downloaded from {url} fails its SHA-256 check (corrupted in transit or altered)",
                f"run again, or {_how_to_fix(destination)}",
            )
        os.replace(tmp, destination)
        return destination
    finally:
        tmp.unlink(missing_ok=True)


def terminal_progress(stream: TextIO | None = None, label: str = "Downloading face model") -> ProgressCallback:
    """A progress callback that draws one updating line, e.g. ``Downloading face model:  42% (1.6/3.8 MB)``."""
    out = stream if stream is not None else sys.stderr
    lock = threading.Lock()
    last = [-1]

    def show(done: int, total: int) -> None:
        percent = int(100 * done / total) if total > 0 else 0
        with lock:
            if percent == last[0]:
                return  # one redraw per percent keeps a slow terminal from becoming the bottleneck
            last[0] = percent
            end = "\n" if total > 0 and done >= total else ""
            out.write(f"\r{label}: {percent:3d}% ({done / 1e6:.1f}/{total / 1e6:.1f} MB){end}")
            out.flush()

    return show

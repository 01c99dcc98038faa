"""The app's remembered settings: a small JSON file in the user's config directory (no Qt here).

Every value is validated on load; a bad value falls back to its default and is named in ``message``. A file
that cannot be read or parsed at all is moved aside to ``settings.json.bad`` and replaced by defaults, so
the app always starts. Writes go to a temporary file first and then ``os.replace`` it, so a crash mid-write
never leaves a half-written settings file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "deadpan"
SETTINGS_FILE = "settings.json"
REGIONS = ("brows", "eyes", "mouth")
RESOLUTIONS = ((640, 480), (960, 540), (1280, 720), (1920, 1080))
FRAME_RATES = (15, 24, 25, 30, 60)
MAX_FACES = 4  # the window offers 1 to 4 (the command line takes any number)
SCHEMA_VERSION = 1


@dataclass
class AppSettings:
    """What the app remembers between runs. ``camera`` is a source spec (camera index, /dev/videoN or a file
    path) or ``None`` for "the first camera found"."""

    camera: str | None = None
    width: int = 1280
    height: int = 720
    fps: int = 30
    filter_name: str = "neutralise"
    strengths: dict[str, float] = field(default_factory=dict)  # filter name -> 0..1
    regions: tuple[str, ...] = REGIONS
    region_strength: dict[str, float] = field(default_factory=lambda: dict.fromkeys(REGIONS, 1.0))  # region -> 0..1
    keep_speech: bool = False
    keep_blinks: bool = True
    mirror: bool = True
    split: float = 0.5  # before/after divider position, 0..1 from the left
    window_geometry: str = ""  # Qt's saveGeometry() as base64; opaque here
    virtual_camera: bool = False  # start the virtual camera with the app
    max_faces: int = 1  # faces filtered; with more in view the call gets a fully obscured frame

    def strength_for(self, filter_name: str) -> float:
        return self.strengths.get(filter_name, 1.0)


def default_settings_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / SETTINGS_FILE


def _as_str_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise ValueError("expected a non-empty text or null")


def _as_int_in(allowed: tuple[int, ...]) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            raise ValueError(f"expected one of {', '.join(map(str, allowed))}")
        return value

    return check


def _as_int_range(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return check


def _as_unit(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError("expected a number from 0 to 1")
    return float(value)


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _as_name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ValueError("expected a short name")
    return value


def _as_strengths(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of filter name to strength")
    return {_as_name(k): _as_unit(v) for k, v in value.items()}


def _as_regions(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or any(r not in REGIONS for r in value) or len(set(value)) != len(value):
        raise ValueError(f"expected a list drawn from {', '.join(REGIONS)}")
    return tuple(r for r in REGIONS if r in value)  # canonical order


def _as_region_strength(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or any(r not in REGIONS for r in value):
        raise ValueError(f"expected a mapping of {', '.join(REGIONS)} to a strength")
    return {r: _as_unit(value.get(r, 1.0)) for r in REGIONS}  # a region not saved is at full strength


def _as_geometry(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 4096:
        raise ValueError("expected saved window geometry text")
    return value


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "camera": _as_str_or_none,
    "width": _as_int_range(160, 7680),
    "height": _as_int_range(120, 4320),
    "fps": _as_int_in(FRAME_RATES),
    "filter_name": _as_name,
    "strengths": _as_strengths,
    "regions": _as_regions,
    "region_strength": _as_region_strength,
    "keep_speech": _as_bool,
    "keep_blinks": _as_bool,
    "mirror": _as_bool,
    "split": _as_unit,
    "window_geometry": _as_geometry,
    "virtual_camera": _as_bool,
    "max_faces": _as_int_range(1, MAX_FACES),
}
assert set(_VALIDATORS) == {f.name for f in dataclasses.fields(AppSettings)}


def validate(data: dict[str, Any]) -> tuple[AppSettings, list[str]]:
    """Settings from a decoded JSON object: each valid value kept, each invalid one replaced by its default
    and described in the returned problems. Unknown keys (from a newer version) are ignored here; the store
    writes them back (:class:`SettingsStore`)."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, check in _VALIDATORS.items():
        if name not in data:
            continue
        try:
            values[name] = check(data[name])
        except (ValueError, TypeError) as exc:
            problems.append(f"{name}: {exc}")
    return AppSettings(**values), problems


def to_json(settings: AppSettings) -> dict[str, Any]:
    data = dataclasses.asdict(settings)
    data["regions"] = list(settings.regions)
    data["version"] = SCHEMA_VERSION
    return data


class SettingsStore:
    """Loads and saves :class:`AppSettings` at ``path`` (default: the user config dir).

    ``message`` is ``None`` after a clean load, otherwise one line for the UI saying what was wrong and what
    was done about it.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_settings_path()
        self.message: str | None = None
        # Settings a newer Deadpan wrote that this one does not know: written back untouched, so going back to
        # an older version and forward again loses none of them.
        self._unknown: dict[str, Any] = {}

    @property
    def bad_path(self) -> Path:
        return self.path.with_name(self.path.name + ".bad")

    def load(self) -> AppSettings:
        self.message = None
        self._unknown = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AppSettings()
        except (OSError, UnicodeDecodeError) as exc:
            return self._replace_unreadable(f"could not read it ({type(exc).__name__})")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return self._replace_unreadable(f"it is not valid JSON (line {exc.lineno})")
        if not isinstance(data, dict):
            return self._replace_unreadable("it does not hold a settings object")
        self._unknown = {k: v for k, v in data.items() if k not in _VALIDATORS and k != "version"}
        settings, problems = validate(data)
        if problems:
            self.message = (
                f"Some saved settings were invalid and were reset to defaults: {'; '.join(problems)}. ({self.path})"
            )
        return settings

    def _replace_unreadable(self, why: str) -> AppSettings:
        settings = AppSettings()
        kept = ""
        if self.path.is_file():  # never a folder given by mistake: that is the user's, not ours to rename
            try:
                os.replace(self.path, self.bad_path)
                kept = f" The old file was kept as {self.bad_path}."
            except OSError:
                pass
        self.message = f"Your settings file could not be used because {why}; defaults are in use.{kept}"
        with contextlib.suppress(OSError):  # the message already tells the user; saving is retried on change
            self.save(settings)
        return settings

    def save(self, settings: AppSettings) -> None:
        """Atomically write ``settings`` (temp file in the same directory, fsync, ``os.replace``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self._unknown | to_json(settings), indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

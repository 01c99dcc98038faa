"""What the user chose for the live pipeline, as one immutable value that is validated as a whole."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from app.tracking import VIDEO, FaceTracker, OneEuroParams
from filters import filter_names

ON_FACE_LOST = ("obscure", "hold", "card")


@dataclass(frozen=True)
class PipelineSettings:
    """``on_face_lost``: what is sent while no face is tracked ("obscure" the whole frame, "hold" the last
    good output, or a plain "card"). ``panic``: every output fully obscured. ``reacquire_frames``: after a
    face was lost, this many consecutive frames with a face are needed before filtered output resumes, so a
    flickering detection cannot let a badly placed filter through."""

    filter_name: str = "blur"
    strength: float = 1.0
    filter_options: dict[str, Any] = field(default_factory=dict)
    max_faces: int = 1
    on_face_lost: str = "obscure"
    panic: bool = False
    smoothing: OneEuroParams | None = OneEuroParams()
    reacquire_frames: int = 2

    def __post_init__(self) -> None:
        if self.filter_name not in filter_names():
            raise ValueError(f"unknown filter {self.filter_name!r}; choose one of: {', '.join(filter_names())}")
        if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)):
            raise ValueError(f"strength must be a number between 0 and 1, got {self.strength!r}")
        if not 0.0 <= float(self.strength) <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {self.strength}")
        if not isinstance(self.filter_options, dict):
            raise ValueError("filter_options must be a dict of option name -> value")
        if isinstance(self.max_faces, bool) or not isinstance(self.max_faces, int) or self.max_faces < 1:
            raise ValueError(f"max_faces must be a whole number of at least 1, got {self.max_faces!r}")
        if self.on_face_lost not in ON_FACE_LOST:
            raise ValueError(f"on_face_lost must be one of {', '.join(ON_FACE_LOST)}, got {self.on_face_lost!r}")
        if not isinstance(self.panic, bool):
            raise ValueError(f"panic must be True or False, got {self.panic!r}")
        if self.smoothing is not None and not isinstance(self.smoothing, OneEuroParams):
            raise ValueError("smoothing must be OneEuroParams or None")
        if isinstance(self.reacquire_frames, bool) or not isinstance(self.reacquire_frames, int):
            raise ValueError(f"reacquire_frames must be a whole number, got {self.reacquire_frames!r}")
        if self.reacquire_frames < 1:
            raise ValueError(f"reacquire_frames must be at least 1, got {self.reacquire_frames}")
        # A private copy, so a caller mutating its dict cannot change settings that are already in use.
        object.__setattr__(self, "filter_options", dict(self.filter_options))
        object.__setattr__(self, "strength", float(self.strength))

    def replace(self, **changes: Any) -> PipelineSettings:
        """A validated copy with ``changes`` applied (ValueError with a one-line message if invalid)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def filter_changed(self, other: PipelineSettings) -> bool:
        """Whether going to ``other`` needs a newly constructed filter (strength alone does not)."""
        return (self.filter_name, self.filter_options) != (other.filter_name, other.filter_options)

    @property
    def faces_tracked(self) -> int:
        """The tracker looks for one face more than the user asked to filter: a face beyond ``max_faces``
        (someone walking in behind you) would otherwise reach the call unfiltered, so seeing it must be
        possible for the pipeline to fail closed on it."""
        return self.max_faces + 1

    def build_tracker(self, model_path, mode: str = VIDEO) -> FaceTracker:
        return FaceTracker(model_path, max_faces=self.faces_tracked, mode=mode, smoothing=self.smoothing)

    def tracker_changed(self, other: PipelineSettings) -> bool:
        return (self.max_faces, self.smoothing) != (other.max_faces, other.smoothing)

"""Command-line options shared by the subcommands, defined once as argparse parent parsers.

``run`` and ``process`` (and the lab's ``bench``) take the same filter options; ``run`` adds the live source
and output options. Values are checked as they are parsed, so a wrong value is one line and exit status 2.

Filter-specific options (``--margin``, the neutraliser's ``--reference``...) are declared with
:func:`filter_option`; they reach the chosen filter through ``PipelineSettings.filter_options`` only if the
filter's constructor takes a parameter of that name, so a new filter needs no change here beyond its options.
"""

from __future__ import annotations

import argparse
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filters import filter_class, filter_names
from filters.neutralise.regions import REGIONS

ON_FACE_LOST_CHOICES = ("obscure", "hold", "card")
BACKENDS = ("auto", "obs", "unitycapture", "v4l2loopback")


class OptionError(ValueError):
    """A wrong combination of options, found after parsing; reported as one line with exit status 2."""


# ------------------------------------------------------------------------------------------ value checks
def strength_value(text: str) -> float:
    value = _number(text, float, "strength")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"strength must be between 0 and 1, got {text}")
    return value


def positive_int(text: str) -> int:
    value = _number(text, int, "value")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "value")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def fraction_value(text: str) -> float:
    value = _number(text, float, "value")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def filter_name_value(text: str) -> str:
    if text not in filter_names():
        raise argparse.ArgumentTypeError(f"unknown filter {text!r}; choose one of: {', '.join(filter_names())}")
    return text


def existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {text}")
    return path


def reference_value(text: str) -> Path | str:
    """``auto``, ``saved`` (the face the app saved for next time) or an existing file (a saved reference or a
    photo)."""
    return text if text in ("auto", "saved") else existing_file(text)


def writable_output(text: str) -> Path:
    path = Path(text).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into the folder {folder}")
    return path


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether writing ``a`` would replace ``b``: the same path once links and ``..`` are resolved, or (both
    existing) the same file under two names (a hard link)."""
    a, b = Path(a).expanduser(), Path(b).expanduser()
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def comma_list(text: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    if not items:
        raise argparse.ArgumentTypeError("give at least one name, separated by commas")
    return items


def region_strength_value(text: str) -> dict[str, float]:
    """``brows=0.5,mouth=0.8`` -> ``{"brows": 0.5, "mouth": 0.8}``; the neutraliser keeps regions not named at 1."""
    strengths: dict[str, float] = {}
    for pair in (part.strip() for part in text.split(",")):
        if not pair:
            continue
        name, equals, number = (piece.strip() for piece in pair.partition("="))
        if not equals or not name or not number:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE pairs such as brows=0.5,mouth=0.8, got {pair!r}")
        if name not in REGIONS:
            raise argparse.ArgumentTypeError(f"unknown region {name!r}; choose from {', '.join(REGIONS)}")
        if name in strengths:
            raise argparse.ArgumentTypeError(f"region {name} is given twice")
        value = _number(number, float, f"the strength of {name}")
        if not 0.0 <= value <= 1.0:  # also refuses nan
            raise argparse.ArgumentTypeError(f"the strength of {name} must be between 0 and 1, got {number}")
        strengths[name] = value
    if not strengths:
        raise argparse.ArgumentTypeError("give at least one NAME=VALUE pair, such as brows=0.5")
    return strengths


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{what} must be {noun}, got {text!r}") from None


# ------------------------------------------------------------------------------- filter-specific options
@dataclass(frozen=True)
class FilterOption:
    """One filter-specific flag. ``param``: the filter constructor's parameter it fills."""

    flags: tuple[str, ...]
    param: str
    argparse_kwargs: dict[str, Any] = field(default_factory=dict)


FILTER_OPTIONS: list[FilterOption] = []


def filter_option(*flags: str, param: str, **argparse_kwargs: Any) -> None:
    """Declare a filter-specific option. It is offered by every subcommand with filter options and passed to
    the chosen filter only if that filter takes ``param``; giving it to a filter that does not is an error."""
    argparse_kwargs.setdefault("default", None)
    FILTER_OPTIONS.append(FilterOption(tuple(flags), param, argparse_kwargs))


# The obscuring filters (blur, pixelate, mask).
filter_option(
    "--margin",
    param="margin",
    type=fraction_value,
    help="how far the cover reaches past the face contour, as a fraction of the face size (default 0.15)",
)
filter_option(
    "--feather",
    param="feather",
    type=fraction_value,
    help="width of the soft edge, as a fraction of the face size (default 0.08)",
)
# The expression neutraliser (filters/neutralise).
filter_option(
    "--reference",
    param="reference",
    type=reference_value,
    help="your neutral face: 'auto' (estimated as you go, the default), 'saved' (the one the app saved for next "
    "time), a saved reference file, or a photo",
)
filter_option(
    "--regions",
    param="regions",
    type=comma_list,
    help="which parts to neutralise, comma separated (default brows,eyes,mouth)",
)
filter_option(
    "--region-strength",
    param="region_strength",
    type=region_strength_value,
    metavar="NAME=V,...",
    help="how strongly each part is neutralised, 0 to 1, e.g. brows=0.5,mouth=0.8 (parts not named: 1)",
)
filter_option(
    "--keep-speech",
    param="keep_speech",
    action="store_const",
    const=True,
    help="leave the jaw opening so speech still looks natural",
)
filter_option(
    "--no-blinks",
    param="keep_blinks",
    action="store_const",
    const=False,
    help="hold the eyelids at the neutral reference (blinks removed)",
)
# Filters added later: declare their options here with filter_option(...).


def filter_params(name: str) -> set[str]:
    """The keyword parameters the filter ``name`` accepts in its constructor."""
    return set(inspect.signature(filter_class(name).__init__).parameters) - {"self", "strength"}


def filter_options_from(args: argparse.Namespace) -> dict[str, Any]:
    """The filter-specific options the user gave, checked against the chosen filter."""
    accepted = filter_params(args.filter)
    options = {}
    for option in FILTER_OPTIONS:
        value = getattr(args, option.param, None)
        if value is None:
            continue
        if option.param not in accepted:
            raise OptionError(f"{option.flags[0]} does not apply to filter {args.filter}")
        options[option.param] = value
    return options


# ---------------------------------------------------------------------------------------- parent parsers
def filter_parent() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("filter")
    group.add_argument(
        "--filter",
        type=filter_name_value,
        default="blur",
        metavar="NAME",
        help=f"one of: {', '.join(filter_names())} (default blur)",
    )
    group.add_argument(
        "--strength", type=strength_value, default=1.0, metavar="S", help="0 (no effect) to 1 (full effect; default)"
    )
    group.add_argument(
        "--faces", type=positive_int, default=1, metavar="N", help="how many faces to track and cover (default 1)"
    )
    group.add_argument(
        "--on-face-lost",
        choices=ON_FACE_LOST_CHOICES,
        default="obscure",
        help="while no face is found send the whole frame obscured (default), the last good frame, or a card",
    )
    group.add_argument(
        "--model",
        type=existing_file,
        default=None,
        metavar="PATH",
        help="Face Landmarker model file (default: $DEADPAN_MODEL, else the cached download)",
    )
    specific = parser.add_argument_group("filter-specific options")
    for option in FILTER_OPTIONS:
        specific.add_argument(*option.flags, dest=option.param, **option.argparse_kwargs)
    return parser


def live_source_parent() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("input")
    which = group.add_mutually_exclusive_group()
    which.add_argument(
        "--camera", metavar="ID", default=None, help="camera number (0, 1...) or device path (default 0)"
    )
    which.add_argument(
        "--input", type=existing_file, metavar="FILE", default=None, help="a video or image file instead of a camera"
    )
    group.add_argument("--loop", action="store_true", help="with --input: start the video again at its end")
    # None when not given, so that giving them with --input can be refused (a file plays at its own size).
    group.add_argument("--width", type=positive_int, default=None, help="camera width to request (default 1280)")
    group.add_argument("--height", type=positive_int, default=None, help="camera height to request (default 720)")
    group.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        help="frame rate to request and to send (default: the source's, else 30)",
    )
    return parser


def live_output_parent() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("output")
    group.add_argument(
        "--output", default="vcam", metavar="vcam|FILE", help="the virtual camera (default) or a video file to record"
    )
    group.add_argument(
        "--backend", default="auto", metavar="B", help=f"virtual camera backend: {', '.join(BACKENDS)} (default auto)"
    )
    group.add_argument(
        "--device",
        default=None,
        metavar="D",
        help="virtual camera device (e.g. /dev/video10); default: the backend's choice",
    )
    return parser

"""Deadpan's privacy filters: one protocol (:class:`Filter`), one registry, one module per filter."""

from filters.base import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, Face, Filter
from filters.registry import create_filter, filter_class, filter_names, register_filter

# Importing a filter module registers it. Each helper adds its module here.
# isort: split
from filters.blur import BlurFilter  # noqa: F401
from filters.mask import MaskFilter  # noqa: F401
from filters.neutralise import NeutraliseFilter  # noqa: F401
from filters.pixelate import PixelateFilter  # noqa: F401

__all__ = [
    "BLENDSHAPE_INDEX",
    "BLENDSHAPE_NAMES",
    "Face",
    "Filter",
    "create_filter",
    "filter_class",
    "filter_names",
    "register_filter",
]

"""The expression neutraliser (registered as ``neutralise``): see :mod:`filters.neutralise.filter`."""

from filters.neutralise.filter import NeutraliseFilter
from filters.neutralise.reference import NeutralReference, ReferenceFileError, reference_from_image

__all__ = ["NeutralReference", "NeutraliseFilter", "ReferenceFileError", "reference_from_image"]

"""What deployment loses: index variants (quantized, truncated, approximate) built from one set of
embeddings, searched and measured beside exact search."""

from .build import BuiltIndex, build
from .measure import VariantFigures, measure
from .variants import IndexSpec, check_against, parse_index

__all__ = ["BuiltIndex", "IndexSpec", "VariantFigures", "build", "check_against", "measure", "parse_index"]

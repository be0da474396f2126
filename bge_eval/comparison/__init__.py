"""Why a checkpoint changed: two model identities' saved results compared item by item."""

from .changes import Comparison, TaskComparison, compare_sides
from .sides import Side, pick_side

__all__ = ["Comparison", "Side", "TaskComparison", "compare_sides", "pick_side"]

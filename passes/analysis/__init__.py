"""Analyses over the IR that passes and backends share (liveness, ...)."""
from .liveness import Liveness, value_ids

__all__ = ["Liveness", "value_ids"]

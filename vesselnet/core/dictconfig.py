"""``to_dict`` / ``from_dict`` for the frozen configuration dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any


class DictConfig:
    """Mixin for frozen dataclasses: a JSON-ready dict and back, refusing unknown keys."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError naming them."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {unknown}; known: {sorted(known)}")
        return cls(**values)

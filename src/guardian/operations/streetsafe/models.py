"""Store tables of operations.streetsafe."""

from __future__ import annotations

"""Store tables of operations.board."""

from __future__ import annotations

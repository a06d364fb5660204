"""Store tables of operations.tagmatch."""

from __future__ import annotations

"""Store tables of operations.initiatives."""

from __future__ import annotations

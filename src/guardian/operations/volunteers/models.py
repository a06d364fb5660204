"""Store tables of operations.volunteers."""

from __future__ import annotations

"""A small least-recently-used map for the web app's per-process caches."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["PageCache"]


class PageCache:
    """A small least-recently-used map of rendered pages, keyed on everything a page shows.

    Parameters
    ----------
    size : int
        Entries kept (about one per signed-in officer).
    """

    def __init__(self, size: int = 2048):
        self.size = size
        self._items: OrderedDict = OrderedDict()

    def get(self, key):
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

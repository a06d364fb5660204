"""Traceable figures: every number of the board report carries the id of a trace entry that says
how it was computed -- the query, its parameters, and the source files with their SHA-256.

A figure is ``{"value": v, "unit": u, "trace": id}``. The id is a hash of the trace's content,
so the same figure computed from the same data gets the same id on every run (the JSON is
byte-identical on a rerun) and two figures computed the same way share one entry.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable

import numpy as np

from guardian.analysis import performance as perf


def _plain(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    return v


class Tracer:
    """Collects trace entries while a report is built.

    Parameters
    ----------
    sources : list of dict
        ``dataset, name, sha256, month, rows`` of the store's source files (the context's).
    config_source : dict, optional
        ``name, sha256`` of the themes file (traces of configured values cite it).
    """

    def __init__(self, sources: list[dict], config_source: dict | None = None) -> None:
        self._sources = sources
        self._config = config_source
        self.traces: dict[str, dict] = {}

    def files(self, dataset: str | None, months: Iterable[str] | None) -> list[dict]:
        """Source files of ``dataset`` (any when None) for ``months`` (all when None)."""
        ms = None if months is None else set(months)
        out = []
        for s in self._sources:
            if dataset is not None and (s.get("dataset") or dataset) != dataset:
                continue
            if ms is not None and s.get("month") not in ms:
                continue
            out.append({"name": str(s["name"]).split("/")[-1], "sha256": s["sha256"]})
        return sorted(out, key=lambda f: f["name"])

    def entry(self, *, what: str, query: str, parameters: dict | None = None,
              files: list[dict] | None = None, method: str = "") -> str:
        """Register a trace entry and return its id (stable: a hash of its content)."""
        body = {"what": what, "query": query, "method": method,
                "parameters": parameters or {}, "sources": files or []}
        key = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
        tid = "t" + hashlib.sha256(key.encode()).hexdigest()[:10]
        if tid not in self.traces:
            self.traces[tid] = {"id": tid, **body}
        return tid

    def fig(self, value, *, unit: str, trace: str) -> dict | None:
        """A figure; ``None`` when the value is missing (the caller says why)."""
        v = _plain(value)
        if v is None:
            return None
        return {"value": v, "unit": unit, "trace": trace}

    # -- the report's common traces -------------------------------------------------------

    def counts(self, *, dataset: str, months: list[str], categories: list[str],
               what: str, method: str = "sum of the counts") -> str:
        """Trace of a count of events over months and categories (the store's GROUP BY)."""
        q = ("SELECT month, category, count(*) FROM events JOIN datasets WHERE dataset = "
             f"'{dataset}' AND month IN ({', '.join(repr(m) for m in months)}) AND category IN "
             f"({', '.join(repr(c) for c in categories)}) GROUP BY month, category")
        return self.entry(what=what, query=q, method=method,
                          parameters={"dataset": dataset, "months": perf.month_span(months),
                                      "categories": list(categories)},
                          files=self.files(dataset, months))

    def configured(self, *, what: str, path: str) -> str:
        """Trace of a value written in the themes configuration."""
        files = [dict(self._config)] if self._config else []
        return self.entry(what=what, query=f"configuration value {path}",
                          method="as configured", files=files)


def walk_numbers(obj, path: str = "$"):
    """Yield ``(path, parent, key)`` for every number (not bool) in a JSON-able object."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, bool):
                continue
            if isinstance(v, int | float):
                yield f"{path}.{k}", obj, k
            else:
                yield from walk_numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, bool):
                continue
            if isinstance(v, int | float):
                yield f"{path}[{i}]", obj, i
            else:
                yield from walk_numbers(v, f"{path}[{i}]")


def untraced_numbers(report: dict) -> list[str]:
    """Paths of numbers in ``report`` (outside ``provenance``) that are not the ``value`` of a
    figure whose ``trace`` is a known trace entry. Empty for a well-formed report."""
    traces = report.get("provenance", {}).get("traces", {})
    bad = []
    body = {k: v for k, v in report.items() if k != "provenance"}
    for path, parent, key in walk_numbers(body):
        if not (isinstance(parent, dict) and key == "value" and parent.get("trace") in traces):
            bad.append(path)
    return bad

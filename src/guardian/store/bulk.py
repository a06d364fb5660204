"""Event rows in bulk: column batches built by the parsing workers, and the fast writers.

A load of 250k police.uk rows spends most of its time outside validation: building Python
rows, moving them between processes and binding them to the database. So the workers hand
over columns (numpy arrays, constants kept once), and each database gets its fastest path:

* SQLite: one ``executemany`` per file with the file's constant columns written into the
  statement, so only the varying values are bound row by row.
* PostgreSQL: ``COPY ... FORMAT binary``, whose payload the worker encodes with numpy; the main
  process only writes in the dataset and file ids (fixed offsets in every row) and sends it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pandas as pd

# Store columns of ``events`` filled from a batch, in insert order.
COLUMNS = (
    "event_key", "month", "occurred_local", "time_precision", "category", "dwelling",
    "x", "y", "lon", "lat", "location", "lsoa_code", "lsoa_name", "outcome", "source_line",
)
_FLOAT = ("x", "y", "lon", "lat")
_TEXT = ("event_key", "month", "time_precision", "category", "location", "lsoa_code",
         "lsoa_name", "outcome")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class Coded:
    """A text column sent as integer codes into its distinct values: cheap to pickle between
    processes when values repeat (categories, places, outcomes)."""

    __slots__ = ("codes", "uniq")

    def __init__(self, codes: np.ndarray, uniq: np.ndarray) -> None:
        self.codes, self.uniq = codes, uniq

    @classmethod
    def of(cls, values) -> Coded:
        codes, uniq = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
        return cls(codes.astype(np.int32), np.asarray(uniq, dtype=object))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, mask) -> Coded:
        return Coded(self.codes[mask], self.uniq)

    def array(self) -> np.ndarray:
        return self.uniq[self.codes]


@dataclass
class EventBatch:
    """Store rows of one file, column by column.

    Attributes
    ----------
    values : dict
        Column name -> per-row values: numpy arrays (float64 with NaN for missing coordinates,
        int64 ``source_line``, naive ``datetime64[us]`` ``occurred_local``, object
        ``event_key`` and ``dwelling`` of True/False/None) or :class:`Coded` text columns.
    const : dict
        Column name -> the one value every row shares (police.uk: month, time, precision,
        dwelling). A column is in exactly one of ``values`` and ``const``.
    """

    n: int
    values: dict[str, np.ndarray | Coded]
    const: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_columns(cls, ev) -> EventBatch:
        """Batch of canonical event columns (a frame, or a dict of arrays) with ``line``."""
        n = len(ev["event_id"])
        times = pd.DatetimeIndex(ev["time"])
        if times.tz is not None:
            times = times.tz_localize(None)  # local wall-clock time, as the store keeps it
        dwell = pd.Series(ev["dwelling"], dtype="boolean").astype(object)

        def text(c: str) -> np.ndarray:
            a = np.asarray(ev[c], dtype=object)
            missing = pd.isna(a)
            if missing.any():
                a = a.copy()
                a[missing] = ""
            return a

        cols: dict[str, np.ndarray | Coded] = {
            "event_key": np.asarray(ev["event_id"], dtype=object),
            "occurred_local": times.to_numpy(dtype="datetime64[us]"),
            "dwelling": dwell.where(dwell.notna(), None).to_numpy(dtype=object),
            **{c: np.asarray(ev[c], dtype=float) for c in _FLOAT},
            **{c: Coded.of(text(c)) for c in _TEXT if c != "event_key"},
            "source_line": np.asarray(ev["line"], dtype=np.int64),
        }
        const = {}
        for c in ("month", "occurred_local", "time_precision", "category", "dwelling"):
            a = cols[c]
            if isinstance(a, Coded):
                if len(a.uniq) == 1:
                    const[c] = a.uniq[0]
            elif n and (pd.isna(a).all() if a[0] is None else bool((a == a[0]).all())):
                const[c] = a[0]
            if c in const:
                del cols[c]
        return cls(n, cols, const)

    def __len__(self) -> int:
        return self.n

    @property
    def keys(self) -> np.ndarray:
        return self.values["event_key"]

    @property
    def lines(self) -> np.ndarray:
        return self.values["source_line"]

    def column(self, c: str) -> np.ndarray:
        """Per-row values of column ``c`` (constants repeated)."""
        if c in self.values:
            a = self.values[c]
            return a.array() if isinstance(a, Coded) else a
        v = self.const[c]
        if isinstance(v, np.datetime64):
            return np.full(self.n, v, dtype="datetime64[us]")
        return np.full(self.n, v, dtype=object)

    def take(self, mask: np.ndarray) -> EventBatch:
        """The rows where ``mask`` is true."""
        return EventBatch(int(mask.sum()), {c: a[mask] for c, a in self.values.items()},
                          dict(self.const))


def sqlite_time(v) -> str:
    """A ``datetime64`` as the text SQLite keeps for a naive DateTime."""
    return pd.Timestamp(v).strftime(TIME_FORMAT)


def _sql_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool | np.bool_):
        return "1" if v else "0"
    if isinstance(v, np.datetime64):
        v = sqlite_time(v)
    if isinstance(v, int | np.integer):
        return str(int(v))
    return "'" + str(v).replace("'", "''") + "'"


def sqlite_insert(batch: EventBatch, ints: dict[str, int]) -> tuple[str, Iterator[tuple]]:
    """SQL and parameter rows inserting ``batch`` into ``events`` on SQLite.

    ``ints`` are integer columns shared by the whole batch (dataset and file id). Constants go
    into the statement as literals; NaN coordinates bind as NULL (SQLite stores no NaN).
    """
    varying = [c for c in COLUMNS if c in batch.values]
    fixed = [c for c in COLUMNS if c in batch.const]
    names = ", ".join([*varying, *fixed, *ints])
    marks = ", ".join(["?"] * len(varying) + [_sql_literal(batch.const[c]) for c in fixed]
                      + [str(int(v)) for v in ints.values()])

    def listed(c: str) -> list:
        if c == "occurred_local":
            codes, uniq = pd.factorize(batch.values[c])
            return np.asarray(pd.DatetimeIndex(uniq).strftime(TIME_FORMAT), dtype=object)[codes].tolist()
        return batch.column(c).tolist()

    rows = zip(*(listed(c) for c in varying), strict=True)
    return f"INSERT INTO events ({names}) VALUES ({marks})", rows


# --- PostgreSQL binary COPY -------------------------------------------------------------------

PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
PG_TRAILER = b"\xff\xff"
# COPY column order: the two ids first, at fixed offsets in every row, so the main process can
# write them into a payload the worker encoded before the ids existed.
PG_COLUMNS = ("dataset_id", "source_file_id", "source_line", "occurred_local", "dwelling",
              *_FLOAT, *_TEXT)
_ID_OFFSETS = (2 + 4, 2 + 8 + 4)  # value bytes of dataset_id and source_file_id in a row
_PG_EPOCH = np.datetime64("2000-01-01T00:00:00", "us")
_NULL = np.frombuffer(struct.pack(">i", -1), dtype=np.uint8)


@dataclass
class PgCopy:
    """A binary COPY payload of ``events`` rows, and where each row starts in it."""

    payload: bytes
    row_starts: np.ndarray

    def take(self, mask: np.ndarray) -> PgCopy:
        """The rows where ``mask`` is true (cut out of the payload; no re-encoding)."""
        ends = np.append(self.row_starts[1:], len(self.payload) - len(PG_TRAILER))
        view = memoryview(self.payload)
        keep = np.flatnonzero(mask)
        body = b"".join(view[a:b] for a, b in zip(self.row_starts[keep].tolist(),
                                                   ends[keep].tolist(), strict=True))
        lengths = ends[keep] - self.row_starts[keep]
        starts = len(PG_HEADER) + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return PgCopy(PG_HEADER + body + PG_TRAILER, starts[: len(keep)])

    def with_ids(self, dataset_id: int, source_file_id: int) -> bytes:
        """The payload with every row's dataset and file id written in."""
        buf = bytearray(self.payload)
        arr = np.frombuffer(buf, dtype=np.uint8)
        for off, value in zip(_ID_OFFSETS, (dataset_id, source_file_id), strict=True):
            pos = (self.row_starts + off)[:, None] + np.arange(4)
            arr[pos] = np.frombuffer(struct.pack(">i", value), dtype=np.uint8)
        return bytes(buf)


def _fixed(values: np.ndarray, dtype: str, width: int) -> np.ndarray:
    """(n, 4 + width) bytes: the length word then the big-endian value."""
    n = len(values)
    out = np.empty((n, 4 + width), dtype=np.uint8)
    out[:, :4] = np.frombuffer(struct.pack(">i", width), dtype=np.uint8)
    out[:, 4:] = np.ascontiguousarray(values.astype(dtype)).view(np.uint8).reshape(n, width)
    return out


def _text_pieces(col: Coded) -> tuple[list, np.ndarray]:
    """Per-row COPY fields (length word + UTF-8) of a text column, and their byte lengths."""
    enc = [str(u).encode("utf-8") for u in col.uniq]
    pieces = np.array([struct.pack(">i", len(b)) + b for b in enc], dtype=object)
    lengths = np.array([4 + len(b) for b in enc], dtype=np.int64)
    return pieces[col.codes].tolist(), lengths[col.codes]


def pg_copy_binary(batch: EventBatch) -> PgCopy:
    """Encode ``batch`` as a ``COPY events (PG_COLUMNS) FROM STDIN (FORMAT binary)`` payload.

    The id fields hold zeros until :meth:`PgCopy.with_ids`. Columns are int4, timestamp
    (microseconds since 2000-01-01), boolean, float8 and text, as the model declares.
    """
    n = batch.n
    column = batch.column
    times = column("occurred_local").astype("datetime64[us]")
    micros = (times - _PG_EPOCH).astype(np.int64)
    dwell = column("dwelling")
    floats = {c: column(c).astype(float) for c in _FLOAT}
    # Rows differ in width only by which nullable fields are NULL: encode each pattern apart.
    null_dw = np.fromiter((v is None for v in dwell), dtype=bool, count=n)
    pattern = null_dw.astype(np.int64)
    for i, c in enumerate(_FLOAT, start=1):
        pattern |= np.isnan(floats[c]).astype(np.int64) << i
    fixed_rows = np.empty(n, dtype=object)
    fixed_len = np.empty(n, dtype=np.int64)
    head = np.frombuffer(struct.pack(">h", len(PG_COLUMNS)), dtype=np.uint8)
    for p in np.unique(pattern):
        idx = np.flatnonzero(pattern == p)
        m = len(idx)
        ids = np.zeros((m, 16), dtype=np.uint8)  # dataset_id, source_file_id: written later
        ids[:, 3] = ids[:, 11] = 4  # their length words
        parts = [np.broadcast_to(head, (m, 2)), ids, _fixed(batch.lines[idx], ">i4", 4),
                 _fixed(micros[idx], ">i8", 8)]
        if p & 1:
            parts.append(np.broadcast_to(_NULL, (m, 4)))
        else:
            parts.append(_fixed(np.array([bool(v) for v in dwell[idx]]), "u1", 1))
        for i, c in enumerate(_FLOAT, start=1):
            if p >> i & 1:
                parts.append(np.broadcast_to(_NULL, (m, 4)))
            else:
                parts.append(_fixed(floats[c][idx], ">f8", 8))
        block = np.ascontiguousarray(np.concatenate(parts, axis=1))
        width = block.shape[1]
        fixed_rows[idx] = block.view(f"V{width}").ravel().tolist()
        fixed_len[idx] = width
    texts, lengths = [], fixed_len.copy()
    for c in _TEXT:
        v = batch.values.get(c)
        if v is None:  # a constant
            v = Coded(np.zeros(n, np.int32), np.array([batch.const[c]], dtype=object))
        if isinstance(v, Coded):
            pieces, plen = _text_pieces(v)
        else:  # the keys: all distinct, so no coding; the length words repeat
            enc = [str(k).encode("utf-8") for k in v]
            sizes = np.fromiter(map(len, enc), dtype=np.int64, count=n)
            words = {int(k): struct.pack(">i", int(k)) for k in np.unique(sizes)}
            pieces = [words[len(b)] + b for b in enc]
            plen = 4 + sizes
        texts.append(pieces)
        lengths += plen
    body = b"".join(chain.from_iterable(zip(fixed_rows.tolist(), *texts, strict=True)))
    starts = len(PG_HEADER) + np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else np.zeros(0, np.int64)
    return PgCopy(PG_HEADER + body + PG_TRAILER, starts.astype(np.int64))


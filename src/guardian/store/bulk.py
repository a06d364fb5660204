"""Event rows in bulk: column batches built by the parsing workers, and the fast writers.

A load of 250k police.uk rows spends most of its time outside validation: building Python
rows, moving them between processes and binding them to the database. So the workers hand
over columns (numpy arrays, constants kept once), and each database gets its fastest path:

* SQLite: one ``executemany`` per file with the file's constant columns written into the
  statement, so only the varying values are bound row by row.
* PostgreSQL: ``COPY ... FORMAT binary``, whose payload the worker encodes with numpy; the main
  process only writes in the row, dataset, file and place ids (fixed offsets in every row) and
  sends it.

A batch carries its distinct places (point, location, LSOA) once, with each row's index into
them; the main process maps them to ``places`` ids (see :class:`guardian.store.models.Place`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pandas as pd

from guardian.store.models import PLACE_COLUMNS

# Store columns of ``events`` filled from a batch, in insert order, and those of ``places``.
COLUMNS = (
    "event_key", "key_hash", "month", "occurred_local", "time_precision", "category", "dwelling",
    "place_id", "outcome", "source_line",
)
_FLOAT = ("x", "y", "lon", "lat")
_TEXT = ("event_key", "month", "time_precision", "category", "outcome")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_NIBBLE[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16)
_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)  # 16 hex digits, most significant first
_HEX_DIGITS = b"0123456789abcdef"


def dataset_salt(dataset: str) -> int:
    """64-bit value mixed into every key hash of a dataset, so that one unique index over all
    datasets keeps them apart (the same id in two extracts is two events)."""
    return int.from_bytes(hashlib.blake2b(dataset.encode("utf-8"), digest_size=8).digest(),
                          "big", signed=True)


def key_hash(key: str, dataset: str) -> int:
    """64-bit signed hash of a dataset's event key: the store's unique index is on it, not on
    the text.

    From the key: a police.uk Crime ID (64 lower-case hex digits, itself a SHA-256) gives its
    first 16 digits, a Guardian ASB key (``asb-`` + 32 hex digits of a SHA-1) the first 16 of
    those, any other key the first 8 bytes of its BLAKE2b digest; then XOR
    :func:`dataset_salt`. Two different events sharing a hash (odds about n²/2⁶⁵: 3 in a
    million at 10 million events) make the load fail with an error naming both, never a
    silent merge.
    """
    digits = key[4:] if len(key) == 36 and key.startswith("asb-") else key
    if len(digits) in (32, 64) and all(c in "0123456789abcdef" for c in digits):
        v = int(digits[:16], 16)
    else:
        v = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")
    v = (v - (1 << 64) if v >= 1 << 63 else v) ^ dataset_salt(dataset)
    return v


def _hex_prefix(keys: np.ndarray, idx: np.ndarray, width: int, skip: int, out, done) -> None:
    """The key part of :func:`key_hash` for the hex keys among ``keys[idx]`` (all ``width``
    characters long, hex after ``skip`` characters), written into ``out``; ``done`` marks them."""
    blob = "".join(keys[idx]).encode("utf-8")
    if len(blob) != width * len(idx):  # some are not ASCII: leave them to key_hash
        return
    b = np.frombuffer(blob, dtype=np.uint8).reshape(-1, width)
    if not skip and not blob.translate(None, _HEX_DIGITS):
        # All hex (every police.uk Crime ID): one pass in C instead of a table lookup per byte.
        ok = np.ones(len(b), dtype=bool)
        nib = _NIBBLE[b[:, :16]]
    else:
        nib = _NIBBLE[b[:, skip:]]
        ok = (nib != 255).all(axis=1)
        if skip:
            ok &= (b[:, :skip] == np.frombuffer(b"asb-", dtype=np.uint8)).all(axis=1)
    first = nib[ok, :16].astype(np.uint64) << _SHIFTS
    out[idx[ok]] = np.bitwise_or.reduce(first, axis=1).view(np.int64)
    done[idx[ok]] = True


def key_hashes(keys: np.ndarray, dataset: str) -> np.ndarray:
    """:func:`key_hash` of every key of ``dataset`` (int64), vectorised for Crime IDs and ASB
    keys."""
    n = len(keys)
    out = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=n)
    for width, skip in ((64, 0), (36, 4)):
        idx = np.flatnonzero(lengths == width)
        if len(idx):
            _hex_prefix(keys, idx, width, skip, out, done)
    out[done] ^= np.int64(dataset_salt(dataset))
    for i in np.flatnonzero(~done):
        out[i] = key_hash(str(keys[i]), dataset)
    return out


def collision_message(a: str, b: str, h: int) -> str:
    return (f"events {a} and {b} share the 64-bit key hash {h}; the store cannot hold both "
            "(odds of a few in a million per 10 million events): please report it")


def hash_collision(keys: np.ndarray, hashes: np.ndarray) -> str:
    """A message naming two distinct ``keys`` (distinct by construction) with one hash, or ""."""
    dup = pd.Series(hashes).duplicated(keep=False).to_numpy()
    if not dup.any():
        return ""
    first = {}
    for h, k in zip(hashes[dup].tolist(), keys[dup].tolist(), strict=True):
        if h in first and first[h] != k:
            return collision_message(repr(first[h]), repr(k), h)
        first.setdefault(h, k)
    return ""


class Coded:
    """A text column as integer codes into its distinct values: cheap to pickle between
    processes when values repeat (categories, outcomes), and encoded once per value."""

    __slots__ = ("codes", "uniq")

    def __init__(self, codes: np.ndarray, uniq: np.ndarray) -> None:
        self.codes, self.uniq = codes, uniq

    @classmethod
    def of(cls, values) -> Coded:
        """Coded text column; missing values (None, NaN) become "" (checked per distinct value)."""
        codes, uniq = pd.factorize(np.asarray(values, dtype=object))
        uniq = np.asarray(uniq, dtype=object)
        if len(codes) and codes.min() < 0:  # missing values: code -1, now pointing at ""
            uniq = np.append(uniq, "")
            codes = np.where(codes < 0, len(uniq) - 1, codes)
        return cls(codes.astype(np.int32), uniq)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, mask) -> Coded:
        return Coded(self.codes[mask], self.uniq)

    def array(self) -> np.ndarray:
        return self.uniq[self.codes]


class PackedText:
    """Text values as one UTF-8 blob and where each ends, decoded only when asked for.

    Crosses between processes as two buffers rather than one object per value: a file's
    17,000 Crime IDs pickle and unpickle in well under a millisecond, not 2.5 ms, in a third
    of the bytes. The loader needs a file's keys back only when some repeat stored ones.
    """

    __slots__ = ("blob", "ends")

    def __init__(self, blob: bytes, ends: np.ndarray) -> None:
        self.blob, self.ends = blob, ends

    @classmethod
    def of(cls, values) -> PackedText:
        blob = "".join(values).encode("utf-8")  # values are str
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        if len(blob) != lengths.sum():  # not all ASCII: characters are not bytes
            enc = [v.encode("utf-8") for v in values]
            blob = b"".join(enc)
            lengths = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
        return cls(blob, np.cumsum(lengths))

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, which) -> np.ndarray:
        """The values at ``which`` (a boolean mask or indices), decoded, as an object array."""
        idx = np.flatnonzero(which) if np.asarray(which).dtype == bool else np.asarray(which)
        starts = np.concatenate([[0], self.ends[:-1]])
        blob = self.blob
        out = np.empty(len(idx), dtype=object)
        out[:] = [blob[a:b].decode("utf-8") for a, b in zip(starts[idx].tolist(),
                                                            self.ends[idx].tolist(), strict=True)]
        return out


def _column(ev, c: str, n: int):
    """Column ``c`` of ``ev`` as an array (a single shared value is repeated)."""
    v = ev[c]
    return np.full(n, v, dtype=object if isinstance(v, str) else float) if np.ndim(v) == 0 else v


def _places(ev, n: int, hint: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each row's index into the batch's distinct places, and those places' columns.

    ``hint``: codes equal exactly for rows at the same place, when the parser has them.
    """
    if hint is not None:
        combo, _ = pd.factorize(np.asarray(hint))
        first = np.zeros(int(combo.max(initial=-1)) + 1, dtype=np.int64)
        first[combo[::-1]] = np.arange(n)[::-1]
        places = {c: np.asarray(_column(ev, c, n), dtype=float if c in _FLOAT else object)[first]
                  for c in PLACE_COLUMNS}
        for c in PLACE_COLUMNS[len(_FLOAT):]:  # missing text is "", as on the other path
            missing = pd.isna(places[c])
            if missing.any():
                places[c][missing] = ""
        return combo.astype(np.int32), places
    cols: dict[str, np.ndarray] = {}
    combo, card = np.zeros(n, dtype=np.int64), 1
    for c in PLACE_COLUMNS:
        if c in _FLOAT:
            a = np.asarray(_column(ev, c, n), dtype=float)
            codes, _ = pd.factorize(a, use_na_sentinel=False)  # NaN: one more value
        else:
            coded = Coded.of(_column(ev, c, n))
            a, codes = coded.array(), coded.codes
        cols[c] = a
        k = int(codes.max(initial=0)) + 1
        if card * k >= 1 << 62:  # keep the mixed code inside int64: renumber first
            combo, _ = pd.factorize(combo)
            card = int(combo.max(initial=0)) + 1
        combo, card = combo * k + codes, card * k
    combo, _ = pd.factorize(combo)
    first = np.zeros(int(combo.max(initial=-1)) + 1, dtype=np.int64)
    first[combo[::-1]] = np.arange(n)[::-1]
    return combo.astype(np.int32), {c: a[first] for c, a in cols.items()}


@dataclass
class EventBatch:
    """Store rows of one file, column by column.

    Attributes
    ----------
    values : dict
        Column name -> per-row values: numpy arrays (int64 ``source_line`` and ``key_hash``,
        naive ``datetime64[us]`` ``occurred_local``, object ``event_key`` and ``dwelling`` of
        True/False/None) or :class:`Coded` text columns; the keys may be :class:`PackedText`
        (indexing it gives an object array).
    const : dict
        Column name -> the one value every row shares (police.uk: month, time, precision,
        dwelling). A column is in exactly one of ``values`` and ``const``.
    place : ndarray of int32
        Each row's index into ``places``.
    places : dict
        The batch's distinct places, ``PLACE_COLUMNS`` -> arrays (float64 with NaN for a
        missing coordinate; text "" when missing).
    place_hash : ndarray of int64
        :func:`place_hashes` of ``places``.
    """

    n: int
    values: dict[str, np.ndarray | Coded | PackedText]
    const: dict[str, object] = field(default_factory=dict)
    place: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    places: dict[str, np.ndarray] = field(default_factory=dict)
    place_hash: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def from_columns(cls, ev, place_codes: np.ndarray | None = None) -> EventBatch:
        """Batch of canonical event columns with ``line``: a frame, or a dict of arrays and
        single values (columns every row shares). ``place_codes``: the parser's place codes
        (:attr:`guardian.data.policeuk.ParsedFile.place_codes`), if any."""
        n = len(ev["event_id"])
        keys = np.asarray(ev["event_id"], dtype=object)
        names = ev["dataset"]
        if np.ndim(names) and len(set(np.asarray(names, dtype=object).tolist())) > 1:
            raise ValueError("an event batch holds one dataset")
        dataset = str(names if np.ndim(names) == 0 else (names[0] if n else ""))
        cols: dict[str, np.ndarray | Coded] = {
            "event_key": keys,
            "key_hash": key_hashes(keys, dataset),
            "source_line": np.asarray(ev["line"], dtype=np.int64),
        }
        const: dict[str, object] = {}
        for c in _TEXT[1:]:
            if np.ndim(ev[c]) == 0:
                const[c] = "" if pd.isna(ev[c]) else ev[c]
            else:
                coded = Coded.of(ev[c])
                if len(coded.uniq) == 1:
                    const[c] = coded.uniq[0]
                else:
                    cols[c] = coded
        if np.ndim(ev["time"]) == 0:
            t = pd.Timestamp(ev["time"])
            const["occurred_local"] = np.datetime64(t.tz_localize(None) if t.tz else t, "us")
        else:
            times = pd.DatetimeIndex(ev["time"])
            if times.tz is not None:
                times = times.tz_localize(None)  # local wall-clock time, as the store keeps it
            t = times.to_numpy(dtype="datetime64[us]")
            if n and (t == t[0]).all():
                const["occurred_local"] = t[0]
            else:
                cols["occurred_local"] = t
        dwell = pd.array(np.broadcast_to(ev["dwelling"], n) if np.ndim(ev["dwelling"]) == 0
                         else ev["dwelling"], dtype="boolean")
        unknown = np.asarray(dwell.isna())
        known = np.asarray(dwell.fillna(False), dtype=bool)
        if unknown.all():
            const["dwelling"] = None
        elif not unknown.any() and (known == known[0]).all():
            const["dwelling"] = bool(known[0])
        else:
            cols["dwelling"] = np.where(unknown, None, known).astype(object)
        place, places = _places(ev, n, place_codes)
        return cls(n, cols, const, place, places, place_hashes(places))

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
        """The rows where ``mask`` is true (and only the places they use)."""
        used, place = np.unique(self.place[mask], return_inverse=True)
        return EventBatch(int(mask.sum()), {c: a[mask] for c, a in self.values.items()},
                          dict(self.const), place.astype(np.int32),
                          {c: a[used] for c, a in self.places.items()}, self.place_hash[used])


def _sql_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool | np.bool_):
        return "1" if v else "0"
    if isinstance(v, np.datetime64):  # the text SQLite keeps for a naive DateTime
        v = pd.Timestamp(v).strftime(TIME_FORMAT)
    if isinstance(v, int | np.integer):
        return str(int(v))
    return "'" + str(v).replace("'", "''") + "'"


def sqlite_insert(batch: EventBatch, ints: dict[str, int],
                  place_ids: np.ndarray) -> tuple[str, Iterator[tuple]]:
    """SQL and parameter rows inserting ``batch`` into ``events`` on SQLite.

    ``ints`` are integer columns shared by the whole batch (dataset and file id);
    ``place_ids`` the store id of each of the batch's places. Constants go into the statement
    as literals.
    """
    varying = [c for c in COLUMNS if c in batch.values or c == "place_id"]
    fixed = [c for c in COLUMNS if c in batch.const]
    names = ", ".join([*varying, *fixed, *ints])
    marks = ", ".join(["?"] * len(varying) + [_sql_literal(batch.const[c]) for c in fixed]
                      + [str(int(v)) for v in ints.values()])

    def listed(c: str) -> list:
        if c == "place_id":
            return np.asarray(place_ids, dtype=np.int64)[batch.place].tolist()
        if c == "occurred_local":
            codes, uniq = pd.factorize(batch.values[c])
            return np.asarray(pd.DatetimeIndex(uniq).strftime(TIME_FORMAT), dtype=object)[codes].tolist()
        return batch.column(c).tolist()

    rows = zip(*(listed(c) for c in varying), strict=True)
    return f"INSERT INTO events ({names}) VALUES ({marks})", rows


def place_hashes(places: dict[str, np.ndarray]) -> np.ndarray:
    """64-bit hash (int64) of each place over all ``PLACE_COLUMNS`` (pandas' fixed-key hash,
    the same in every process)."""
    frame = pd.DataFrame({c: places[c] for c in PLACE_COLUMNS})
    # categorize=False: the same hashes, a third faster on columns with few repeats.
    return pd.util.hash_pandas_object(frame, index=False, categorize=False).to_numpy().view(np.int64)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise equality with NaN equal to NaN (a missing coordinate is a value here)."""
    eq = a == b
    if a.dtype.kind == "f":
        eq |= np.isnan(a) & np.isnan(b)
    return np.asarray(eq, dtype=bool)


class KnownPlaces:
    """One dataset's stored places as a load sees them: found by hash, confirmed by value.

    Finding a batch's ~7,000 places by their 64-bit hash (a pandas hash table over the
    known ones), then comparing all their columns as arrays, costs a few milliseconds; a Python
    dictionary of value tuples cost 20 ms a file, one of hashes 8 ms.
    """

    def __init__(self, ids: np.ndarray, places: dict[str, np.ndarray]) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.cols = {c: np.asarray(places[c], dtype=float if c in _FLOAT else object)
                     for c in PLACE_COLUMNS}
        self.hashes = place_hashes(self.cols)
        self.checked = False  # stored hashes found unique

    def resolve(self, places: dict[str, np.ndarray], hashes: np.ndarray,
                next_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Store ids of ``places`` (the known ones' ids; new ones numbered from ``next_id``,
        and remembered), and which were new.

        Raises
        ------
        ValueError
            Naming two different places that share a hash (odds like those of event keys).
        """
        known = pd.Index(self.hashes)
        # Checked once: places added later are new by hash and distinct within their batch.
        if not self.checked and not known.is_unique:  # stored once each: only a collision
            raise ValueError("two stored places share a 64-bit place hash; please report it")
        self.checked = True
        pos = known.get_indexer(hashes)  # -1: not known
        hit = pos >= 0
        if hit.any():
            same = np.ones(int(hit.sum()), dtype=bool)
            for c in PLACE_COLUMNS:
                same &= _same(self.cols[c][pos[hit]], places[c][hit])
            if not same.all():
                i = int(np.flatnonzero(hit)[~same][0])
                j = int(pos[i])
                raise ValueError(
                    f"places {tuple(self.cols[c][j] for c in PLACE_COLUMNS)} and "
                    f"{tuple(places[c][i] for c in PLACE_COLUMNS)} share the 64-bit hash "
                    f"{int(hashes[i])}; please report it")
        new = ~hit
        fresh = np.arange(next_id, next_id + int(new.sum()), dtype=np.int64)
        ids = np.empty(len(hashes), dtype=np.int64)
        ids[hit] = self.ids[pos[hit]]
        ids[new] = fresh
        if len(fresh):
            self.ids = np.concatenate([self.ids, fresh])
            self.hashes = np.concatenate([self.hashes, hashes[new]])
            for c in PLACE_COLUMNS:
                self.cols[c] = np.concatenate([self.cols[c], np.asarray(places[c][new], dtype=self.cols[c].dtype)])
        return ids, new


def place_rows(places: dict[str, np.ndarray]) -> list[tuple]:
    """The places as tuples in ``PLACE_COLUMNS`` order, NaN coordinates as None (as the store
    gives them back, so tuples from a batch and from the store compare equal)."""
    cols = [places[c].tolist() for c in PLACE_COLUMNS]
    for i in range(len(_FLOAT)):
        cols[i] = [None if v != v else v for v in cols[i]]
    return list(zip(*cols, strict=True))


# --- PostgreSQL binary COPY -------------------------------------------------------------------

PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
PG_TRAILER = b"\xff\xff"
# COPY column order: the four ids first, at fixed offsets in every row, so the main process
# can write them into a payload the worker encoded before the ids existed. The row's own id is
# one of them: given by the loader, the server evaluates no sequence default per row.
# The text columns police.uk files hold constant (month, precision) and the keys (64 or 36
# ASCII characters) come next, so that for most rows they fold into the fixed-width block.
PG_COLUMNS = ("id", "dataset_id", "source_file_id", "place_id", "source_line", "key_hash",
              "occurred_local", "dwelling", "month", "time_precision", "event_key", "category",
              "outcome")
_PG_TEXT = PG_COLUMNS[8:]
_N_IDS = 4
# Where in a row the ids' value bytes sit (after the field count and each length word).
_ID_BYTES = (2 + 8 * np.arange(_N_IDS)[:, None] + 4 + np.arange(4)).ravel()
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

    def with_ids(self, event_ids: np.ndarray, dataset_id: int, source_file_id: int,
                 place_ids: np.ndarray) -> bytearray:
        """The payload with every row's own id, dataset, file and place id written in
        (``event_ids`` and ``place_ids`` per row)."""
        buf = bytearray(self.payload)
        arr = np.frombuffer(buf, dtype=np.uint8)
        n = len(self.row_starts)
        ids = np.empty((n, _N_IDS), dtype=">i4")
        ids[:, 0], ids[:, 1], ids[:, 2], ids[:, 3] = event_ids, dataset_id, source_file_id, place_ids
        arr[self.row_starts[:, None] + _ID_BYTES] = ids.view(np.uint8).reshape(n, 4 * _N_IDS)
        return buf


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


def _text_field(value: str) -> bytes:
    b = str(value).encode("utf-8")
    return struct.pack(">i", len(b)) + b


def _fixed_keys(keys: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray], np.ndarray]:
    """Keys as bytes, grouped by length: each row's key length (-1 if not ASCII), for each
    length an (m, length) byte array of those keys, and each row's index into it."""
    n = len(keys)
    key_len = np.fromiter(map(len, keys), dtype=np.int64, count=n)
    where = np.zeros(n, dtype=np.int64)
    by_len: dict[int, np.ndarray] = {}
    for length in np.unique(key_len).tolist():
        idx = np.flatnonzero(key_len == length)
        blob = "".join(keys[idx]).encode("utf-8")
        if len(blob) != length * len(idx):  # some not ASCII: those go one by one
            ascii_ = np.fromiter((k.isascii() for k in keys[idx]), dtype=bool, count=len(idx))
            key_len[idx[~ascii_]] = -1
            idx = idx[ascii_]
            blob = "".join(keys[idx]).encode("ascii")
        by_len[length] = np.frombuffer(blob, dtype=np.uint8).reshape(len(idx), length)
        where[idx] = np.arange(len(idx))
    return key_len, by_len, where


def pg_copy_binary(batch: EventBatch) -> PgCopy:
    """Encode ``batch`` as a ``COPY events (PG_COLUMNS) FROM STDIN (FORMAT binary)`` payload.

    The id fields hold zeros until :meth:`PgCopy.with_ids`. Columns are int4, timestamp
    (microseconds since 2000-01-01), boolean, float8 and text, as the model declares.

    Rows are encoded in groups of equal shape (NULL dwelling flag or not, key length): each
    group's fixed-width fields, shared text values and keys are one numpy block, so only the
    varying text (category, outcome) is joined row by row.
    """
    n = batch.n
    column = batch.column
    times = column("occurred_local").astype("datetime64[us]")
    micros = (times - _PG_EPOCH).astype(np.int64)
    dwell = column("dwelling")
    if "dwelling" in batch.const:
        null_dw = np.full(n, batch.const["dwelling"] is None)
    else:
        null_dw = np.fromiter((v is None for v in dwell), dtype=bool, count=n)
    keys = np.asarray(batch.keys, dtype=object)
    key_len, key_bytes, key_at = _fixed_keys(keys)
    # The text columns that fold into the block: shared values, then the keys, in column order.
    folded = []
    for c in _PG_TEXT:
        if c in batch.const:
            folded.append(c)
        elif c == "event_key":
            folded.append(c)
            break
        else:
            break
    rest = [c for c in _PG_TEXT if c not in folded]
    head = np.frombuffer(struct.pack(">h", len(PG_COLUMNS)), dtype=np.uint8)
    fixed_rows = np.empty(n, dtype=object)
    fixed_len = np.empty(n, dtype=np.int64)
    shape = null_dw.astype(np.int64) * (int(key_len.max(initial=0)) + 2) + (key_len + 1)
    for code in np.unique(shape):
        idx = np.flatnonzero(shape == code)
        m = len(idx)
        null, klen = bool(null_dw[idx[0]]), int(key_len[idx[0]])
        ids = np.zeros((m, 8 * _N_IDS), dtype=np.uint8)  # the ids: written in later
        ids[:, 3::8] = 4  # their length words
        parts = [np.broadcast_to(head, (m, 2)), ids, _fixed(batch.lines[idx], ">i4", 4),
                 _fixed(batch.values["key_hash"][idx], ">i8", 8), _fixed(micros[idx], ">i8", 8),
                 np.broadcast_to(_NULL, (m, 4)) if null else
                 _fixed(np.array([bool(v) for v in dwell[idx]]), "u1", 1)]
        for c in folded:  # shared values, then (last) the keys
            if c != "event_key":
                field_ = np.frombuffer(_text_field(batch.const[c]), dtype=np.uint8)
                parts.append(np.broadcast_to(field_, (m, len(field_))))
            elif klen >= 0:
                word = np.frombuffer(struct.pack(">i", klen), dtype=np.uint8)
                parts += [np.broadcast_to(word, (m, 4)), key_bytes[klen][key_at[idx]]]
        block = np.ascontiguousarray(np.concatenate(parts, axis=1))
        width = block.shape[1]
        rows = block.view(f"V{width}").ravel().tolist()
        if "event_key" in folded and klen < 0:  # non-ASCII keys: appended one by one
            rows = [r + _text_field(keys[i]) for r, i in zip(rows, idx.tolist(), strict=True)]
            fixed_len[idx] = np.fromiter(map(len, rows), dtype=np.int64, count=m)
        else:
            fixed_len[idx] = width
        fixed_rows[idx] = rows
    texts, lengths = [], fixed_len.copy()
    for c in rest:
        v = batch.values.get(c)
        if v is None:  # a constant after a varying column
            v = Coded(np.zeros(n, np.int32), np.array([batch.const[c]], dtype=object))
        if isinstance(v, Coded):
            pieces, plen = _text_pieces(v)
        else:  # the keys, when a varying column comes before them
            enc = [_text_field(k) for k in v]
            pieces, plen = enc, np.fromiter(map(len, enc), dtype=np.int64, count=n)
        texts.append(pieces)
        lengths += plen
    body = b"".join(chain.from_iterable(zip(fixed_rows.tolist(), *texts, strict=True)))
    starts = len(PG_HEADER) + np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else np.zeros(0, np.int64)
    return PgCopy(PG_HEADER + body + PG_TRAILER, starts.astype(np.int64))

"""Finding input files: single CSVs (plain or gzip), police.uk folder trees and archive zips.

A :class:`Source` is one CSV to read, named by a path a person can follow back to the file
(``archive.zip!2021-12/2021-12-essex-street.csv`` for zip members).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from guardian.errors import InputError

POLICE_UK_NAME = re.compile(
    r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z0-9-]+?)-(?P<kind>street|outcomes|stop-and-search)\.csv(\.gz)?$"
)


@dataclass(frozen=True)
class Source:
    """One CSV file to load.

    Attributes
    ----------
    name : str
        Traceable display path (zip members as ``archive.zip!member``).
    path : Path
        The file on disk (the archive for zip members).
    member : str | None
        Zip member name, if inside an archive.
    """

    name: str
    path: Path
    member: str | None = None

    def read_bytes(self) -> bytes:
        """Raw, decompressed bytes of the CSV."""
        if self.member is not None:
            with zipfile.ZipFile(self.path) as zf:
                data = zf.read(self.member)
        else:
            data = self.path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data

    @property
    def basename(self) -> str:
        return (self.member or self.path.name).rsplit("/", 1)[-1]


def decode_csv(source: Source, data: bytes | None = None) -> tuple[bytes, str]:
    """The source's bytes (read unless given) and their UTF-8 text (a BOM is dropped).

    Raises :class:`InputError` naming the file when it is not UTF-8.
    """
    data = source.read_bytes() if data is None else data
    try:
        return data, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source.name}: not UTF-8 text ({exc})") from exc


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (of the decompressed CSV, so .csv and .csv.gz agree)."""
    return hashlib.sha256(data).hexdigest()


def _is_csv(name: str) -> bool:
    return name.endswith(".csv") or name.endswith(".csv.gz")


def iter_sources(paths: list[Path | str]) -> Iterator[Source]:
    """Expand files, folders and zips into CSV sources, in a stable (sorted) order.

    Folders are searched recursively for ``*.csv`` and ``*.csv.gz``; zips contribute their CSV
    members. Raises :class:`InputError` for a path that does not exist or holds no CSV.
    """
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_csv(p.name))
            zips = sorted(p for p in path.rglob("*.zip") if p.is_file())
            if not found and not zips:
                raise InputError(f"{path}: folder holds no .csv, .csv.gz or .zip files")
            for p in found:
                yield Source(name=str(p), path=p)
            for z in zips:
                yield from iter_sources([z])
        elif path.suffix == ".zip":
            try:
                with zipfile.ZipFile(path) as zf:
                    members = sorted(m for m in zf.namelist() if _is_csv(m))
            except zipfile.BadZipFile as exc:
                raise InputError(f"{path}: not a readable zip archive ({exc})") from exc
            if not members:
                raise InputError(f"{path}: archive holds no CSV files")
            for m in members:
                yield Source(name=f"{path}!{m}", path=path, member=m)
        elif _is_csv(path.name):
            yield Source(name=str(path), path=path)
        else:
            raise InputError(f"{path}: expected a .csv, .csv.gz, .zip or a folder of them")

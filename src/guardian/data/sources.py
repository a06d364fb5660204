"""Finding input files: single CSVs (plain or gzip), police.uk folder trees and archive zips.

A :class:`Source` is one CSV to read, named by a path a person can follow back to the file
(``archive.zip!2021-12/2021-12-essex-street.csv`` for zip members).
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from guardian.errors import InputError

POLICE_UK_NAME = re.compile(
    r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z0-9-]+?)-(?P<kind>street|outcomes|stop-and-search)\.csv(\.gz)?$"
)


class UnreadableFile(InputError):
    """A file whose bytes cannot be read as a CSV at all: a truncated or corrupt gzip or zip,
    a binary file, or one the operating system will not let us read.

    Unlike a CSV that is not police.uk-shaped (reported per file and skipped), this stops the
    whole load before anything is written: a damaged download is usually one of many from the
    same fetch, and loading the rest would leave a month silently missing.
    """


# Why a damaged archive failed, in words a user can act on (the libraries' own messages,
# e.g. "Error -3 while decompressing data", name neither the cause nor the fix).
_REDOWNLOAD = "download it again (or delete it) and rerun"


def _damaged(name: str, what: str, exc: BaseException | None = None) -> UnreadableFile:
    detail = f" ({exc})" if exc is not None and str(exc) else ""
    return UnreadableFile(f"{name}: {what}{detail}; {_REDOWNLOAD}")


def _read_file(name: str, path: Path) -> bytes:
    """The bytes of ``path``; operating-system refusals become :class:`UnreadableFile`."""
    try:
        return path.read_bytes()
    except PermissionError as exc:
        raise UnreadableFile(f"{name}: cannot be read (permission denied); give the user "
                             f"running guardian read access (chmod u+r) and rerun") from exc
    except IsADirectoryError as exc:
        raise UnreadableFile(f"{name}: is a folder, not a file; pass the folder itself") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile(f"{name}: is a symbolic link loop; point the link at the real "
                                 f"file and rerun") from exc
        raise UnreadableFile(f"{name}: cannot be read ({exc.strerror or exc}); check the disk "
                             f"or copy the file elsewhere and rerun") from exc


def _gunzip(name: str, data: bytes) -> bytes:
    """Decompressed gzip ``data``; a cut-short or corrupt stream is :class:`UnreadableFile`."""
    try:
        return gzip.decompress(data)
    except EOFError as exc:
        # gzip raises EOFError for a stream that stops early; left alone, click turns it
        # into a bare "Aborted." (issue 17).
        raise _damaged(name, "the gzip file is cut short (an interrupted download?)") from exc
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise _damaged(name, "the gzip file is corrupt", exc) from exc


def _check_text(name: str, data: bytes) -> None:
    """Refuse bytes that are plainly not a CSV (an archive or other binary under a .csv name).

    NUL bytes never occur in a text CSV; zip and gzip signatures mean a compressed file was
    renamed or compressed twice.
    """
    if data[:4] == b"PK\x03\x04":
        raise UnreadableFile(f"{name}: is a zip archive, not a CSV; rename it to .zip (or "
                             f"unzip it) and rerun")
    if data[:2] == b"\x1f\x8b":
        raise UnreadableFile(f"{name}: is gzip-compressed twice; gunzip it once and rerun")
    nul = data.find(b"\x00", 0, 1 << 20)
    if nul >= 0:
        raise UnreadableFile(f"{name}: is not a CSV text file (binary data, a NUL byte at "
                             f"byte {nul}); check it is the police.uk .csv or .csv.gz and not "
                             f"another file renamed")


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
        """Raw, decompressed bytes of the CSV.

        Raises
        ------
        UnreadableFile
            The file cannot be read, its gzip or zip data is cut short or corrupt, or it is
            not text (the message names the file, the fault and the fix).
        """
        if self.member is not None:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    data = zf.read(self.member)
            except PermissionError:
                _read_file(str(self.path), self.path)  # raises, with the fix
                raise
            except EOFError as exc:
                raise _damaged(self.name, "the zip member is cut short (an interrupted "
                                          "download?)") from exc
            except (zipfile.BadZipFile, zlib.error, OSError, ValueError) as exc:
                # BadZipFile covers a failed CRC; zlib.error a corrupt deflate stream.
                raise _damaged(self.name, "the zip archive is corrupt", exc) from exc
        else:
            data = _read_file(self.name, self.path)
        if data[:2] == b"\x1f\x8b":
            data = _gunzip(self.name, data)
        _check_text(self.name, data)
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
        raise InputError(f"{source.name}: not UTF-8 text ({exc}); re-save it as UTF-8 "
                         f"(police.uk publishes UTF-8) and rerun") from exc


def csv_lines(text: str) -> list[str]:
    """The lines of a CSV's text, split at line breaks a CSV reader knows (LF, CRLF, CR).

    Not ``str.splitlines``: it also breaks at U+0085, U+2028, form feeds and other separators
    that a field may hold (text pasted into a Location), splitting one row into two ragged
    ones, both quarantined and the file's row count wrong.
    """
    if "\n" not in text and "\r" in text:  # old Mac line endings
        parts = text.split("\r")
    else:
        parts = text.split("\n")
        parts = [ln[:-1] if ln.endswith("\r") else ln for ln in parts]
    if parts and parts[-1] == "":
        parts.pop()
    return parts


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
            if path.is_symlink():
                raise UnreadableFile(f"{path}: is a symbolic link to nothing (broken, or a "
                                     f"loop); point the link at the real file and rerun")
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_csv(p.name))
            # A CSV-named link that leads nowhere would otherwise be skipped without a word,
            # and its month silently missing from the load.
            dangling = sorted(p for p in path.rglob("*")
                              if _is_csv(p.name) and p.is_symlink() and not p.exists())
            if dangling:
                raise UnreadableFile(f"{dangling[0]}: is a symbolic link to nothing (broken, "
                                     f"or a loop); fix or remove it and rerun")
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
                raise UnreadableFile(f"{path}: not a readable zip archive ({exc}), e.g. cut "
                                     f"short by an interrupted download; {_REDOWNLOAD}") from exc
            except OSError:
                _read_file(str(path), path)  # raises, naming the fix
                raise
            if not members:
                raise InputError(f"{path}: archive holds no CSV files")
            for m in members:
                yield Source(name=f"{path}!{m}", path=path, member=m)
        elif _is_csv(path.name):
            yield Source(name=str(path), path=path)
        else:
            raise InputError(f"{path}: expected a .csv, .csv.gz, .zip or a folder of them")

"""Zip archives (image folders, .npz) read under a decompression budget.

A zip header states each entry's size, but a hostile archive may lie, and an honest one may
still inflate 1000-fold. So the number of entries is checked from the end record before the
central directory is parsed, the declared sizes are checked before anything is inflated, and
the bytes actually produced are counted while decompressing: reading stops at the cap whatever
the header said. Nothing is ever extracted to disk; entry names that would escape a folder
(`../x`, `/etc/x`) are refused anyway, as no genuine dataset has them.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

from ..errors import DataError
from ..limits import Limits, human_bytes

ZIP_KIND = ("open", "zip archive", "re-create it with a standard zip tool (deflate or store compression)")
NPZ_KIND = ("read", "NumPy .npz file", "save it with np.savez")
CHUNK = 1 << 20  # decompress 1 MiB at a time, so a refusal never holds more than the cap plus this


class BoundedZip:
    """A read-only zip whose reads all draw on one budget of decompressed bytes."""

    def __init__(self, path: Path, caps: Limits, kind: tuple[str, str, str] = ZIP_KIND):
        self.path, self.caps, self.kind = Path(path), caps, kind
        _check_entry_count(self.path, caps)
        self.archive = _open(self.path, kind)
        self.budget = caps.bytes_of("max_decompressed_mb")
        self.used = 0
        self._check_declared()

    def __enter__(self) -> "BoundedZip":
        return self

    def __exit__(self, *exc) -> None:
        self.archive.close()

    def namelist(self) -> list[str]:
        return self.archive.namelist()

    def read(self, name: str, limit: EntryLimit | None = None) -> bytes:
        """The entry's bytes, counted against the budget (and `limit`, when given)."""
        with self.open(name, limit) as stream:
            return stream.read()

    def open(self, name: str, limit: EntryLimit | None = None) -> "CountedStream":
        """A stream over the entry that refuses to produce more than the budget left (or `limit`)."""
        info = self.archive.getinfo(name)
        self.check_size(name, info.file_size, limit, "declares")
        self.check_total(name, self.used + info.file_size, "declares")
        try:
            raw = self.archive.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as e:
            raise corrupt(self.path, e, self.kind) from None
        return CountedStream(raw, self, name, limit)

    def recount(self) -> None:
        """Start the budget afresh for a second pass over entries the first pass already counted."""
        self.used = 0

    def _check_declared(self) -> None:
        for info in self.archive.infolist():
            check_entry_name(info.filename, self.path.name)
        declared = sum(info.file_size for info in self.archive.infolist())
        if declared > self.budget:
            raise self.caps.refuse("max_decompressed_mb", f"{self.path.name} declares {human_bytes(declared)} "
                                   f"of content", "split the archive or shrink the files in it")

    def check_size(self, name: str, size: int, limit: EntryLimit | None, what: str) -> None:
        """One entry against the caller's bound for its kind (an image, an array)."""
        if limit is not None and size > limit.nbytes:
            raise self.caps.refuse(limit.cap, f"entry {name!r} of {self.path.name} {what} {human_bytes(size)} "
                                   f"although {limit.why} {human_bytes(limit.nbytes)}")

    def check_total(self, name: str, total: int, what: str) -> None:
        """Everything inflated so far (with this entry) against the archive's budget."""
        if total > self.budget:
            raise self.caps.refuse("max_decompressed_mb", f"entry {name!r} of {self.path.name} {what} "
                                   f"{human_bytes(total)} together with the entries read before it",
                                   "split the archive or shrink the files in it")


class EntryLimit(NamedTuple):
    """A bound for one kind of entry, tighter than the archive's budget, and the cap it derives from."""
    nbytes: int
    cap: str  # a Limits field, named in the refusal
    why: str  # what the bound is, read before the size: "an image file within the pixel cap needs at most"


class CountedStream(io.RawIOBase):
    """Reads from a zip entry, counting inflated bytes and refusing past its limit or the budget."""

    def __init__(self, raw: BinaryIO, owner: BoundedZip, name: str, limit: EntryLimit | None):
        super().__init__()
        self.raw, self.owner, self.name, self.limit, self.count = raw, owner, name, limit, 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.count

    def read(self, size: int = -1) -> bytes:
        chunks = []
        while size < 0 or sum(map(len, chunks)) < size:
            want = CHUNK if size < 0 else min(CHUNK, size - sum(map(len, chunks)))
            data = self._read_some(want)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def readinto(self, buffer) -> int:
        data = self._read_some(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _read_some(self, size: int) -> bytes:
        try:
            data = self.raw.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            raise corrupt(self.owner.path, e, self.owner.kind) from None
        self.count += len(data)
        self.owner.used += len(data)
        self.owner.check_size(self.name, self.count, self.limit, "inflates to at least")
        self.owner.check_total(self.name, self.owner.used, "inflates to")
        return data

    def close(self) -> None:
        self.raw.close()
        super().close()


def check_entry_name(name: str, archive_name: str) -> None:
    """Refuse absolute paths and `..` parts: the marks of an archive built to escape a folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and path.parts[0].endswith(":")):
        raise DataError(f"{archive_name} has an entry named {name!r} that points outside the archive (absolute "
                        f"path or '..'); zip the dataset folder itself, e.g. `zip -r data.zip pets/`")


def corrupt(path: Path, error: Exception, kind: tuple[str, str, str] = ZIP_KIND) -> DataError:
    """kind: (verb, what the file should be, how to make a good one)."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    verb, what, fix = kind
    return DataError(f"cannot {verb} {path.name} as a {what}: it is damaged or not one ({reason}); {fix}")


def _open(path: Path, kind: tuple[str, str, str]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DataError(f"file not found: {path}; check the path") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise corrupt(path, e, kind) from None


def _check_entry_count(path: Path, caps: Limits) -> None:
    """Count entries from the end-of-archive record, before the central directory is parsed:
    a million empty entries fit in a small upload but cost ~1 GB as Python objects."""
    try:
        with open(path, "rb") as f:
            end = zipfile._EndRecData(f)  # the record zipfile itself trusts; stable since Python 2
    except FileNotFoundError:
        raise DataError(f"file not found: {path}; check the path") from None
    except (OSError, ValueError, EOFError, AttributeError):
        return  # _open reports damage in its own words
    if end and end[zipfile._ECD_ENTRIES_TOTAL] > caps.max_zip_entries:
        raise caps.refuse("max_zip_entries", f"{path.name} holds {end[zipfile._ECD_ENTRIES_TOTAL]:,} entries",
                          "zip fewer files")

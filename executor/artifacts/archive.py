"""Archiving of artifacts: tar+gzip streaming in both directions, with memory bounded by a few buffers.

Layout of an archive (as Argo writes it): one top-level entry named after the archived path's base name; a
directory's files sit under it. Unpacking puts that single entry at the destination path, whatever its name, so
`/tmp/output` uploaded by one step can land at `/tmp/input` in the next.

Reading uses tarfile's stream mode (`r|`) over a gzip stream, writing uses `w|` into a gzip stream: neither seeks
nor buffers a whole member. Extraction applies tarfile's `data` filter (no absolute paths, no `..`, no device
files, no links leaving the destination).
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_COMPRESSION_LEVEL = 6  # gzip's default, as Argo's (Go's DefaultCompression)
_CHUNK = 1024 * 1024


class ArchiveError(Exception):
    """An archive could not be written or read; the message says which path and why."""


def write_tar_gz(src: Path, out: BinaryIO, *, compression_level: int = DEFAULT_COMPRESSION_LEVEL) -> None:
    """Write `src` (a file or a directory) as a gzip-compressed tar to `out`, streaming."""
    if not -1 <= compression_level <= 9:
        raise ArchiveError(f"compressionLevel {compression_level} is out of range; use -1 (default) to 9")
    level = DEFAULT_COMPRESSION_LEVEL if compression_level == -1 else compression_level
    with (
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        # the declared path itself is followed when it is a symlink (its target is the artifact); links inside a
        # directory stay links, as tar keeps them
        tar.add(str(src.resolve()), arcname=src.name or "artifact", recursive=True)


@contextmanager
def tar_gz_reader(src: Path, *, compression_level: int = DEFAULT_COMPRESSION_LEVEL) -> Iterator[BinaryIO]:
    """A readable stream of `src` as tar+gzip, produced by a thread through a pipe (nothing held in memory).

    Errors of the writer are raised when the context exits, after the reader saw end of stream.
    """
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=_CHUNK) as sink:
                write_tar_gz(src, sink, compression_level=compression_level)
        except BrokenPipeError:
            pass  # the reader gave up; its own error is the one to report
        except BaseException as exc:  # re-raised in the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=produce, name=f"tar {src}", daemon=True)
    thread.start()
    reader = os.fdopen(read_fd, "rb", buffering=_CHUNK)
    try:
        yield reader
    finally:
        reader.close()
        thread.join()
    if failure:
        raise ArchiveError(f"cannot archive {src}: {failure[0]}") from failure[0]


def is_tar_gz(path: Path) -> bool:
    """True when `path` is a gzip-compressed tar (reads only the first header, as Argo's isTarball)."""
    if not path.is_file():
        return False
    with path.open("rb") as f:
        if f.read(2) != GZIP_MAGIC:
            return False
        f.seek(0)
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
                return tar.next() is not None
        except (OSError, EOFError, tarfile.TarError):
            return False


def extract_tar_gz(stream: BinaryIO, dest: Path) -> None:
    """Unpack a tar+gzip stream so that its single top-level entry ends up at `dest`.

    An archive with several top-level entries becomes a directory at `dest` holding them all.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".trellis-untar-", dir=dest.parent))
    moved = False
    try:
        try:
            with (
                gzip.GzipFile(fileobj=stream, mode="rb") as gz,
                tarfile.open(fileobj=gz, mode="r|") as tar,
            ):
                tar.extractall(staging, filter="data")
        except (OSError, EOFError, tarfile.TarError) as exc:
            raise ArchiveError(f"cannot unpack the archive for {dest}: {exc}") from exc
        entries = list(staging.iterdir())
        _remove(dest)
        if len(entries) == 1:
            entries[0].rename(dest)
        else:
            staging.rename(dest)
            moved = True
    finally:
        if not moved and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def copy_stream(src: BinaryIO, dst: BinaryIO) -> int:
    """Copy in 1 MiB chunks; returns the number of bytes copied."""
    total = 0
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        total += len(chunk)
    return total

"""Opening input files: decompressed byte streams, the errors a damaged stream raises, and the check
that a file is still the one the run planned from."""

from __future__ import annotations

import gzip
import io
import os
import zlib

from curate.errors import InputChanged
from curate.io.discover import InputFile


def check_unchanged(f: InputFile) -> None:
    """Raise InputChanged, naming the file, if its size or modification time changed since discovery."""
    try:
        st = os.stat(f.path)
    except OSError as err:
        raise InputChanged(
            f"input file '{f.path}' changed after the run started: it can no longer be found "
            f"({err.strerror}); restore it and resume the run, or start a new run"
        ) from None
    if st.st_size != f.size or st.st_mtime_ns != f.mtime_ns:
        what = f"{f.size} bytes, now {st.st_size}" if st.st_size != f.size else "modified"
        raise InputChanged(
            f"input file '{f.path}' changed after the run started ({what}); restore it and resume the run, "
            "or start a new run"
        )


def open_binary(f: InputFile) -> io.BufferedIOBase:
    if f.compression == "gzip":
        return gzip.open(f.path, "rb")
    if f.compression == "zstd":
        return io.BufferedReader(_ZstdFrames(f.path))
    return open(f.path, "rb")


class _ZstdFrames(io.RawIOBase):
    """A zstd file of one or more frames, decompressed; EOFError where the file ends inside a frame.

    zstandard's own `stream_reader` ends a truncated file with a short read and no error, so its records
    would vanish (or its last one would look like malformed JSON) instead of naming the file.
    """

    CHUNK = 1 << 16  # compressed bytes per step: bounds what one step decompresses

    def __init__(self, path: str):
        import zstandard

        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = None  # the decompressor of the frame being read; None between frames
        self._out = memoryview(b"")  # decompressed bytes not yet returned
        self._start = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._start >= len(self._out):
            if not self._decompress_next_chunk():
                return 0
        n = min(len(buffer), len(self._out) - self._start)
        buffer[:n] = self._out[self._start : self._start + n]
        self._start += n
        return n

    def _decompress_next_chunk(self) -> bool:
        data = self._file.read(self.CHUNK)
        if not data:
            if self._frame is not None:
                raise EOFError("the zstd stream ends inside a frame (the file is truncated)")
            return False
        out = []
        while data:
            if self._frame is None:
                self._frame = self._dctx.decompressobj()
            out.append(self._frame.decompress(data))
            if not self._frame.eof:
                break
            data, self._frame = self._frame.unused_data, None  # the next frame starts here
        self._out, self._start = memoryview(b"".join(out)), 0
        return True

    def close(self) -> None:
        self._file.close()
        super().close()


# Errors a damaged compressed stream raises while it is read.
STREAM_ERRORS: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error, ValueError)
try:
    import zstandard

    STREAM_ERRORS += (zstandard.ZstdError,)
except ImportError:  # pragma: no cover - zstandard is a core dependency
    pass

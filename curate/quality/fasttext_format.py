"""Check that a file is a whole fastText model before fastText's loader sees it.

fastText's C++ loader trusts the file: on a truncated model it reads a word up to a NUL byte that never
comes (100% CPU for minutes), or sizes a matrix from garbage (a crash, a huge allocation), and a model
one byte short loads without a word of warning. So curate walks the file's layout first (fastText 0.9,
`FastText::saveModel`), checking every length against the bytes left, and requires it to end exactly
where the last matrix ends:

    int32 magic 793712314, int32 version (11 or 12)
    args: 12 x int32 (dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn,
          lrUpdateRate), float64 t
    dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx_size;
                size x (NUL-terminated word, int64 count, int8 type); pruneidx_size x (int32, int32)
                (pruneidx_size is -1 in a model that was never pruned)
    bool quant_input; input matrix; bool qout; output matrix (quantized if quant_input and qout)
    dense matrix: int64 m, n; m*n float32
    quantized matrix: bool qnorm; int64 m, n; int32 codesize; codesize bytes; product quantizer;
                      if qnorm: m bytes and a second product quantizer
    product quantizer: int32 dim, nsubq, dsub, lastdsub; dim*256 float32 centroids

Reading the dictionary is one pass over its bytes: a few milliseconds for lid.176.ftz.
"""

from __future__ import annotations

import mmap
import os
import struct

from curate.errors import UserError

MAGIC = 793712314
VERSIONS = (11, 12)
_CENTROIDS = 256  # a product quantizer's centroids per sub-quantizer (8 bits)


class _Damaged(Exception):
    """The layout does not fit the file; the message says where."""


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def advance(self, n: int, what: str) -> int:
        """Move past the next `n` bytes, which must be in the file; returns where they start."""
        if n < 0 or self.pos + n > len(self.data):
            raise _Damaged(
                f"{what} needs {n:,} bytes at byte {self.pos:,}, but the file has {len(self.data):,}"
            )
        self.pos += n
        return self.pos - n

    def ints(self, fmt: str, what: str) -> tuple:
        return struct.unpack_from("<" + fmt, self.data, self.advance(struct.calcsize("<" + fmt), what))

    def skip(self, count: int, item_bytes: int, what: str) -> None:
        if count < 0:
            raise _Damaged(f"{what} has a negative size ({count})")
        self.advance(count * item_bytes, what)


def check_model_file(path: str) -> None:
    """Raise a UserError naming `path` and the fix unless it holds one whole fastText model."""
    try:
        with open(path, "rb") as f:
            # Mapped, not read: a dense .bin model can be hundreds of MB, and only the dictionary is scanned.
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(f.fileno()).st_size else b""
    except OSError as err:
        raise UserError(f"fastText model '{path}' cannot be read ({err.strerror}); check the path.") from None
    try:
        end = _walk(_Reader(data))
        if end != len(data):
            raise _Damaged(f"the model ends at byte {end:,}, but the file has {len(data):,}")
    except _Damaged as err:
        raise UserError(
            f"'{path}' is not a valid fastText model ({err}); it may be truncated or another file: copy "
            "it again, retrain it with `curate train-classifier`, or use a shipped model (`curate models`)."
        ) from None


def _walk(r: _Reader) -> int:
    """The offset where the model ends, having checked each part of the layout."""
    magic, version = r.ints("ii", "the header")
    if magic != MAGIC:
        raise _Damaged("it does not start with fastText's magic number")
    if version not in VERSIONS:
        raise _Damaged(f"its format version is {version}, not one of {VERSIONS}")
    r.ints("12i", "the training arguments")
    r.ints("d", "the training arguments")
    _dictionary(r)
    (quant_input,) = r.ints("?", "the input matrix flag")
    _matrix(r, quant_input, "the input matrix")
    (qout,) = r.ints("?", "the output matrix flag")
    _matrix(r, quant_input and qout, "the output matrix")
    return r.pos


def _dictionary(r: _Reader) -> None:
    size, nwords, nlabels = r.ints("iii", "the dictionary header")
    _ntokens, pruneidx_size = r.ints("qq", "the dictionary header")
    if size < 0 or nwords < 0 or nlabels < 0 or nwords + nlabels != size:
        raise _Damaged(f"its dictionary sizes do not add up ({nwords} words + {nlabels} labels != {size})")
    for k in range(size):
        end = r.data.find(b"\0", r.pos)
        if end < 0:
            raise _Damaged(f"dictionary entry {k:,} of {size:,} has no end")
        r.pos = end + 1
        r.advance(9, f"dictionary entry {k:,} of {size:,}")  # int64 count, int8 type
    r.skip(max(pruneidx_size, 0) if pruneidx_size >= -1 else pruneidx_size, 8, "the pruned-index table")


def _matrix(r: _Reader, quantized: bool, what: str) -> None:
    if not quantized:
        m, n = r.ints("qq", what)
        if m < 0 or n < 0:
            raise _Damaged(f"{what} has a negative shape ({m} x {n})")
        r.skip(m * n, 4, what)
        return
    (qnorm,) = r.ints("?", what)
    m, _n, codesize = r.ints("qqi", what)
    r.skip(codesize, 1, f"the codes of {what}")
    _product_quantizer(r, what)
    if qnorm:
        r.skip(m, 1, f"the norm codes of {what}")
        _product_quantizer(r, f"the norm quantizer of {what}")


def _product_quantizer(r: _Reader, what: str) -> None:
    dim, _nsubq, _dsub, _lastdsub = r.ints("iiii", what)
    r.skip(dim * _CENTROIDS, 4, f"the centroids of {what}")

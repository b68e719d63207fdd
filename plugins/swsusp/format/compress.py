"""Compressed image blocks (docs/format.md §5.2) and the image CRC32 (docs/format.md §5.3)."""

import zlib

from .errors import SwsuspFormatError
from .structs import CMP_HEADER, PAGE_SIZE

UNC_PAGES = 32  # LZO_UNC_PAGES / UNC_PAGES: stream pages per compressed block
UNC_SIZE = UNC_PAGES * PAGE_SIZE
# Worst case of the 6.9+ generic path (LZO's is 2 bytes less): x + x/16 + 64 + 3 + 2
CMP_SIZE_MAX = UNC_SIZE + UNC_SIZE // 16 + 64 + 3 + 2
CMP_PAGES_MAX = -(-(CMP_HEADER + CMP_SIZE_MAX) // PAGE_SIZE)  # 35


def _lzo():
    try:
        import lzallright
    except ImportError as exc:  # surfaced as ImportError, which Volatility lists cleanly
        raise ImportError("LZO images need the 'lzallright' package (pip install lzallright)") from exc
    def decompress(data: bytes) -> bytes:
        # A compressor per call (~5 us against ~150 us of decompressing a block): lzallright's
        # is "unsendable", and one dropped by another thread than its creator (a read-ahead
        # worker holding the last reference to a stream) prints a RuntimeError as it goes.
        # lzallright cannot bound its output: on an overrun it doubles the buffer until the
        # stream fits.  A payload is at most CMP_SIZE_MAX bytes and LZO1X expands at most
        # ~255x (one zero byte adds 255 to a match length), so one call peaks at ~100 MiB
        # (the 64 MiB try and the copy of <= 36 MiB) and the result is dropped by the caller
        # at once when it is not the block's size (see BlockDecompressor).
        return lzallright.LZOCompressor().decompress(data, output_size_hint=UNC_SIZE)

    return decompress, (lzallright.LZOError,)


def _codec_error(exc: Exception) -> str:
    """The library's reason, never its data: lzallright's InputNotConsumed carries the whole
    decompressed output in its args (str() of it was a ~4x larger string per damaged block)."""
    if type(exc).__name__ == "InputNotConsumed":
        return "data continues after the end of the LZO stream"
    return str(exc.args[0] if len(exc.args) == 1 else exc)[:200]


def _lz4():
    try:
        import lz4.block
    except ImportError as exc:
        raise ImportError("LZ4 images need the 'lz4' package (pip install lz4)") from exc

    def decompress(data: bytes) -> bytes:
        # A raw LZ4 block (no frame, no size prefix): uncompressed_size is the maximum, a
        # longer output fails inside the library (the output is bounded to one block).
        return lz4.block.decompress(data, uncompressed_size=UNC_SIZE)

    return decompress, (lz4.block.LZ4BlockError,)


_DECOMPRESSORS = {"lzo": _lzo, "lz4": _lz4}


class BlockDecompressor:
    """Decompress one block's payload and check it is whole pages (`load_compressed_image`)."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self._decompress, self._errors = _DECOMPRESSORS[codec]()

    def __call__(self, payload: bytes, expected_len: int, offset: int, index: int) -> bytes:
        """The block's bytes; SwsuspFormatError if they are not `expected_len` bytes.  The
        error keeps no reference to the output, the payload or the library's exception (a
        damage log may hold thousands of them; see damage.DamageLog)."""
        reason = None
        try:
            data = self._decompress(payload)
        except self._errors + (ValueError,) as exc:
            reason = f"{self.codec.upper()} data does not decompress ({_codec_error(exc)})"
        if reason is None:
            got = len(data)
            if got == expected_len:
                return data
            del data  # may be ~36 MiB: gone before the error exists
            reason = (f"{self.codec.upper()} block decompresses to {got} bytes, expected "
                      f"{expected_len} ({expected_len // PAGE_SIZE} pages)")
        raise SwsuspFormatError(reason, offset, block_index=index)


def crc32_le(crc: int, data: bytes) -> int:
    """The kernel's crc32_le(seed, …): reflected CRC-32 with no pre/post inversion.

    The image CRC is crc32_le(0, …) chained over the uncompressed stream, which is *not*
    zlib.crc32: zlib inverts on entry and exit, so undo both.
    """
    return zlib.crc32(data, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

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
    compressor = lzallright.LZOCompressor()

    def decompress(data: bytes) -> bytes:
        return compressor.decompress(data, output_size_hint=UNC_SIZE)

    return decompress, (lzallright.LZOError, lzallright.InputNotConsumed)


def _lz4():
    try:
        import lz4.block
    except ImportError as exc:
        raise ImportError("LZ4 images need the 'lz4' package (pip install lz4)") from exc

    def decompress(data: bytes) -> bytes:
        # A raw LZ4 block (no frame, no size prefix): uncompressed_size is the maximum.
        return lz4.block.decompress(data, uncompressed_size=UNC_SIZE)

    return decompress, (lz4.block.LZ4BlockError,)


_DECOMPRESSORS = {"lzo": _lzo, "lz4": _lz4}


class BlockDecompressor:
    """Decompress one block's payload and check it is whole pages (`load_compressed_image`)."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self._decompress, self._errors = _DECOMPRESSORS[codec]()

    def __call__(self, payload: bytes, expected_len: int, offset: int, index: int) -> bytes:
        try:
            data = self._decompress(payload)
        except self._errors + (ValueError,) as exc:
            raise SwsuspFormatError(
                f"{self.codec.upper()} data does not decompress ({exc})", offset, block_index=index
            ) from None
        if len(data) != expected_len:
            raise SwsuspFormatError(
                f"{self.codec.upper()} block decompresses to {len(data)} bytes, expected "
                f"{expected_len} ({expected_len // PAGE_SIZE} pages)",
                offset,
                block_index=index,
            )
        return data


def crc32_le(crc: int, data: bytes) -> int:
    """The kernel's crc32_le(seed, …): reflected CRC-32 with no pre/post inversion.

    The image CRC is crc32_le(0, …) chained over the uncompressed stream, which is *not*
    zlib.crc32: zlib inverts on entry and exit, so undo both.
    """
    return zlib.crc32(data, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

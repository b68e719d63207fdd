"""A hand-written LZO1X fragment encoder and a parser (Documentation/staging/lzo.rst).

GiB-sized images cannot be LZO-compressed page by page here (lzallright manages ~5-20 MB/s),
so :mod:`samples.large_image` compresses each template page ONCE into a self-contained LZO1X
*fragment* (:func:`lzo_fragment`) and assembles a block's stream by concatenating fragments
(:func:`lzo_assemble`).  The result is a valid LZO1X bitstream (Linux lzo1x_decompress_safe
rules) but not the bytes lzo1x_1_compress would emit: it never matches across pages.
:func:`lzo1x_parse` decodes a stream into its literal and match segments.
"""
from __future__ import annotations

import functools
import struct

LZO_EOF = b"\x11\x00\x00"      # M4 with distance 16384 = end of stream


@functools.lru_cache(maxsize=1)
def _compressor():
    import lzallright
    return lzallright.LZOCompressor()


def lzo_raw(data: bytes) -> bytes:
    """lzallright LZO1X without lzo_compress's memo (whose cache would grow by GiBs here)."""
    return _compressor().compress(data)


def lzo1x_parse(comp: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Decode an LZO1X stream into (output, segments); a segment is (start, end, distance) of
    the output, distance 0 = literals.  Decoder rules of Documentation/staging/lzo.rst."""
    out = bytearray()
    segs: list[tuple[int, int, int]] = []
    ip, state = 0, 0

    def ext(ip: int, base: int) -> tuple[int, int]:
        z = 0
        while comp[ip] == 0:
            z += 1
            ip += 1
        return ip + 1, base + 255 * z + comp[ip]

    def lit(ip: int, n: int) -> int:
        if n:
            segs.append((len(out), len(out) + n, 0))
            out.extend(comp[ip:ip + n])
        return ip + n

    b = comp[0]
    if b >= 22:
        ip, state = lit(1, b - 17), 4
    elif b >= 18:
        ip, state = lit(1, b - 17), b - 17
    while True:
        t = comp[ip]
        ip += 1
        if t >= 64:                                   # M2
            dist = (comp[ip] << 3) + ((t >> 2) & 7) + 1
            ip += 1
            length, ss = (t >> 5) + 1, t & 3
        elif t >= 32:                                 # M3
            length = (t & 31) + 2
            if length == 2:
                ip, length = ext(ip, 33)
            d = comp[ip] | comp[ip + 1] << 8
            ip += 2
            dist, ss = (d >> 2) + 1, d & 3
        elif t >= 16:                                 # M4 (or end of stream)
            length = (t & 7) + 2
            if length == 2:
                ip, length = ext(ip, 9)
            d = comp[ip] | comp[ip + 1] << 8
            ip += 2
            dist, ss = ((t & 8) << 11) + (d >> 2), d & 3
            if dist == 0:
                if ip != len(comp):
                    raise ValueError("input not consumed")
                return bytes(out), segs
            dist += 16384
        elif state == 0:                              # literal run
            n = t + 3
            if n == 3:
                ip, n = ext(ip, 18)
            ip, state = lit(ip, n), 4
            continue
        else:                                         # M1: 2 bytes (state 1-3) / 3 bytes (4)
            dist = (t >> 2) + (comp[ip] << 2) + (1 if state != 4 else 2049)
            ip += 1
            length, ss = (2 if state != 4 else 3), t & 3
        s = len(out)
        if not 0 < dist <= s:
            raise ValueError(f"match distance {dist} before the start of the output")
        if dist >= length:
            out.extend(out[s - dist:s - dist + length])
        else:
            for _ in range(length):
                out.append(out[-dist])
        segs.append((s, s + length, dist))
        ip = lit(ip, ss)
        state = ss


def _count(n: int) -> bytes:
    """LZO length extension for n >= 1: n // 255 zero bytes (255 each) then a non-zero byte."""
    z = (n - 1) // 255
    return b"\0" * z + bytes([n - 255 * z])


def _literal_run(n: int) -> bytes:
    """'copy long literal string' (valid in state 0 only, n >= 4)."""
    return bytes([n - 3]) if n <= 18 else b"\0" + _count(n - 18)


def _match(length: int, dist: int, ss: int) -> bytes:
    """M2 (3..8 bytes within 2 KiB) or M3 (within 16 KiB) with `ss` trailing literals."""
    if length <= 8 and dist <= 2048:
        d = dist - 1
        return bytes([((length - 1) << 5) | ((d & 7) << 2) | ss, d >> 3])
    assert 3 <= length and dist <= 16384
    op = bytes([32 | (length - 2)]) if length <= 33 else b"\x20" + _count(length - 33)
    return op + struct.pack("<H", ((dist - 1) << 2) | ss)


def lzo_fragment(page: bytes,
                 hole: tuple[int, int] | None = None) -> tuple[bytes, bytes, bytes]:
    """One page as a concatenable LZO1X fragment (head, body, tail):

    * head: leading literals, >= 4 bytes (up to ``hole`` = (start, end) at least: the bytes
      of the hole are literals and no match copies from them, so any bytes can be patched
      into the head there -- the large images' PFN stamp);
    * body: instructions starting with a match (valid after any state) and ending with a match
      whose S bits are 0 (state 0);
    * tail: trailing literals, 0 or >= 4 bytes.

    A block is ``run(pending + head) + body`` per page (pending = the previous page's tail,
    fragments without a body only add their head to pending), a final run, and EOF.  The
    parse comes from lzallright's compression of the page alone."""
    out, segs = lzo1x_parse(lzo_raw(page))
    assert out == page
    hmin = hole[1] if hole else 4
    norm: list[list[int]] = []

    def add(s: int, e: int, d: int) -> None:
        if d == 0 and norm and norm[-1][2] == 0:
            norm[-1][1] = e
        else:
            norm.append([s, e, d])

    for s, e, d in segs:
        if d and e - s < 3:                              # M1 (2 bytes): only after S literals
            d = 0
        if d:
            if s < hmin:                                 # inside the head: literals
                if e - hmin < 3:
                    add(s, e, 0)
                    continue
                add(s, hmin, 0)
                s = hmin
            if hole and s - d < hole[1] and e - d > hole[0]:
                add(s, e, 0)                             # would copy bytes of the hole
                continue
        add(s, e, d)
    # 1..3 trailing literals cannot start a literal run: take bytes from the last match
    if len(norm) > 1 and norm[-1][2] == 0 and norm[-1][1] - norm[-1][0] < 4:
        m, t = norm[-2], norm[-1]
        need = 4 - (t[1] - t[0])
        if m[1] - m[0] - need >= 3:
            m[1] -= need
            t[0] -= need
        else:
            del norm[-2:]
            add(m[0], t[1], 0)
    head = page[:norm[0][1]]
    rest = norm[1:]
    tail = b""
    if rest and rest[-1][2] == 0:
        tail = page[rest[-1][0]:]
        rest.pop()
    body = []
    for i, (s, e, d) in enumerate(rest):
        if d:
            nxt = rest[i + 1] if i + 1 < len(rest) else None
            ss = nxt[1] - nxt[0] if nxt is not None and nxt[2] == 0 and nxt[1] - nxt[0] <= 3 else 0
            body.append(_match(e - s, d, ss))
            if ss and nxt is not None:
                body.append(page[nxt[0]:nxt[1]])
        elif e - s >= 4:
            body.append(_literal_run(e - s) + page[s:e])
    frag = (head, b"".join(body), tail)
    # self-check: decodes to the page, also with other bytes in the hole
    probes = [page]
    if hole:
        probes.append(page[:hole[0]] + b"\xa5\x5a" * ((hole[1] - hole[0]) // 2) + page[hole[1]:])
    for probe in probes:
        ph = probe[:len(head)]
        stream = _literal_run(len(ph)) + ph + frag[1]
        if tail:
            stream += _literal_run(len(tail)) + tail
        assert lzo1x_parse(stream + LZO_EOF)[0] == probe
    return frag


def lzo_assemble(frags) -> bytes:
    """LZO1X stream of consecutive pages from (head pieces, head length, body, tail)."""
    out: list[bytes] = []
    pend: list[bytes] = []
    plen = 0
    for hp, hl, body, tail in frags:
        pend.extend(hp)
        plen += hl
        if body:
            out.append(_literal_run(plen))
            out.extend(pend)
            out.append(body)
            pend = [tail] if tail else []
            plen = len(tail)
    if plen:
        out.append(_literal_run(plen))
        out.extend(pend)
    out.append(LZO_EOF)
    return b"".join(out)

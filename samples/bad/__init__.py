"""A corpus of bad inputs, each with what `vol` must say about it (issue 4).

    python -m samples.bad [DIR]        writes every case into DIR (default: samples/bad/)

The images are generated, never committed (`*.img` here is ignored by git): each case is a
synthetic variant of samples/swsusp_gen.py with one documented defect, or a small file of
the kind analysts try by mistake.  CORPUS says, per case, the plugin to run, the exit
status and the words the output must contain; tests/test_bad_corpus.py runs every case
through the real `vol` command line, and samples/bad/README.md lists them.

Refusals (exit 1) name what is wrong and the file offset.  Salvage cases (exit 0) decode
what can be trusted and say which pages are missing and why.
"""

import os
import struct
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from samples import swsusp_gen

PAGE = 4096
Edit = Tuple[int, bytes]


@dataclass(frozen=True)
class Case:
    name: str
    defect: str  # what is wrong, for the README
    build: Callable[["_Base"], bytes]
    plugin: str = "linux.swsusp_info"
    exit_code: int = 1
    stderr: Tuple[str, ...] = ()  # all must appear in vol's stderr
    stdout: Tuple[str, ...] = ()  # all must appear in vol's stdout
    args: Tuple[str, ...] = field(default=())
    extend: Tuple[str, ...] = ()  # `-e` values (Volatility's global option, before the plugin)
    size: int = 0  # apparent size: the file is extended, sparse, to this (os.truncate)
    seconds: float = 0  # the answer's time bound, vol's start included (0: not checked)
    place: int = 0  # file offset the built bytes are written at (zeros, sparse, before)

    def command(self) -> Tuple[str, ...]:
        """The `vol` arguments after `-f IMAGE`."""
        return tuple(a for value in self.extend for a in ("-e", value)) + (self.plugin,) + self.args


class _Base:
    """Synthetic variants written once per corpus build (a temporary directory)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._made: Dict[str, tuple] = {}

    def variant(self, name: str):
        if name not in self._made:
            self._made[name] = swsusp_gen.make_variant(name, self.directory)
        return self._made[name]

    def edited(self, name: str, edits: Callable[[swsusp_gen.Facts], List[Edit]], cut=None) -> bytes:
        _machine, facts, path = self.variant(name)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        for offset, value in edits(facts):
            data[offset : offset + len(value)] = value
        if cut is not None:
            del data[cut(facts):]
        return bytes(data)


def at(facts, block: int) -> int:
    return facts.partition_offset + block * PAGE


def block_of_compressed(facts, j: int) -> int:
    """File offset of compressed block j's first page (its 8-byte length)."""
    return at(facts, facts.stream_blocks[facts.blocks[j]["first_entry"]])


def _file(edits: List[Edit], size: int = 1 << 20) -> Callable[[_Base], bytes]:
    def build(_base) -> bytes:
        data = bytearray(size)
        for offset, value in edits:
            data[offset : offset + len(value)] = value
        return bytes(data)

    return build


def _random(_base) -> bytes:
    return bytes((i * 131 + 7) & 0xFF for i in range(1 << 16))


def _looping_chain(_base) -> bytes:
    """Two full map pages pointing at each other, every entry naming an empty page."""
    header = bytearray(PAGE)
    struct.pack_into("<I", header, 1024, 1)  # mkswap version 1
    struct.pack_into("<I", header, 1028, 1099)  # last_page: room for two full map pages
    struct.pack_into("<Q", header, 4064, 1)  # image: first map page at block 1
    header[4076:4096] = b"SWAPSPACE2S1SUSPEND\0"
    map1 = struct.pack("<511QQ", *([3] * 511), 2)
    map2 = struct.pack("<511QQ", *([3] * 511), 1)
    return bytes(header) + map1 + map2 + bytes(PAGE * 1097)


# Bytes after an LZO stream's end that keep the block's last 3 bytes lzo1x's end marker (the
# reader checks a length by it): lzallright then raises InputNotConsumed.
AFTER_END = b"\x11\x00\x00"


def lzo_bomb(length: int, trailing: bytes = b"") -> bytes:
    """A legal LZO1X stream of exactly `length` bytes (plus `trailing` bytes after its end)
    that decompresses to ~255 x length bytes: one literal, then one match at distance 1
    whose length is extended by `length - 9` zero bytes (each adds 255), then the end marker.
    With `trailing`, lzallright raises InputNotConsumed carrying all that output."""
    assert length >= 10
    return bytes([18, 0x41, 0x20]) + bytes(length - 9) + b"\x01\x00\x00" + b"\x11\x00\x00" + trailing


def bombed_blocks(facts, blocks, trailing: bytes = b"") -> List[Edit]:
    """Each block j's record rewritten as an LZO bomb filling the pages it has (its length
    still leads to the next block): block j claims ~255 x its stored bytes of output."""
    edits = []
    for j in blocks:
        blk = facts.blocks[j]
        room = blk["stored_pages"] * PAGE - 8
        record = struct.pack("<Q", room) + lzo_bomb(room - len(trailing), trailing)
        first = blk["first_entry"]
        for k in range(blk["stored_pages"]):
            edits.append((at(facts, facts.stream_blocks[first + k]), record[k * PAGE : (k + 1) * PAGE]))
    return edits


def damaged_lengths(facts, blocks) -> List[Edit]:
    """Each block j's 8-byte length replaced by one far beyond any block (1 TiB + j)."""
    return [(block_of_compressed(facts, j), struct.pack("<Q", (1 << 40) + j)) for j in blocks]


def flipped_flags(facts, bits: int) -> List[Edit]:
    """swsusp_header.flags (layout A, 4072 in the header page) with `bits` flipped."""
    return [(facts.header_file_offset + 4072, struct.pack("<I", facts.flags ^ bits))]


def _edit(name: str, edits, cut=None) -> Callable[[_Base], bytes]:
    return lambda base: base.edited(name, edits, cut)


def _info(facts) -> int:
    return at(facts, facts.stream_blocks[0])


def _pfn_entry(facts, i: int) -> int:  # uncompressed variants: the PFN list is plain
    return at(facts, facts.stream_blocks[1]) + 8 * i


def _swap_header_page(version: int = 1, last_page: int = 131071, nr_badpages: int = 0) -> bytes:
    page = bytearray(PAGE)
    struct.pack_into("<III", page, 1024, version, last_page, nr_badpages)
    page[4086:4096] = b"SWAPSPACE2"
    return bytes(page)


def _ram_dump_with_swap_header(_base) -> bytes:
    """A raw RAM dump (as `layerwriter` writes one): text pages, a kernel banner, and the
    kernel's copy of the machine's swap header (a 512 MiB area) in page 37."""
    pages = [bytes((i * 7 + j) & 0x7F for j in range(PAGE)) for i in range(64)]
    pages[0] = bytes(PAGE)  # PFN 0: not saved by hibernation, zeros in the dump
    pages[12] = b"Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)\0".ljust(PAGE, b"\0")
    pages[37] = _swap_header_page()
    return b"".join(pages)


def _other_arch(facts) -> List[Edit]:
    uts = bytearray(6 * 65)
    uts[0:5] = b"Linux"
    uts[4 * 65 : 4 * 65 + 7] = b"aarch64"
    return [(_info(facts), bytes(uts))]


OFFSET = "file offset 0x"
TIB = 1 << 40
REFUSAL_SECONDS = 10.0  # the error contract: any refusal of an input up to 1 TiB apparent size


def _first_map_page_zeroed(facts) -> List[Edit]:
    return [(at(facts, facts.map_blocks[0]), bytes(PAGE))]


def _gpt_repeating(base) -> bytes:
    """A GPT disk whose 128 entries all name the (damaged) swap partition."""
    from samples.containers import GPT_SWAP, build_gpt

    area = base.edited("quickstart-lzo", _first_map_page_zeroed)
    first = 2048
    head, tail = build_gpt(TIB // 512, [(GPT_SWAP, first, first + len(area) // 512 - 1, "swap")] * 128,
                           __import__("random").Random("gpt-repeating"))
    return head + bytes(first * 512 - len(head)) + area  # the backup GPT lies beyond: absent


def _every_page_a_header(_base) -> bytes:
    """An ext4-like filesystem (scanned for swap files) whose every other page reads as an
    S1SUSPEND header pointing at block 1: 64 MiB, 16383 false headers."""
    page = bytearray(PAGE)
    page[4086:4096] = b"S1SUSPEND\0"
    struct.pack_into("<Q", page, 4064, 1)
    block0 = bytearray(PAGE)
    block0[1080:1082] = b"\x53\xef"
    return bytes(block0) + bytes(page) * ((64 << 20) // PAGE - 1)


def _header_in_the_middle(base) -> bytes:
    """One header page at 512 GiB of a 1 TiB sparse file: its map pointer names block 1."""
    return base.edited("quickstart-lzo", lambda f: [])[:PAGE]


def _fragmented_copy(base) -> bytes:
    """The copied-out swap file had it been fragmented (samples/containers.py), given alone:
    the header's filesystem blocks are not in the copy's order."""
    import random

    from samples.containers import fragmented_copy

    _machine, facts, path = base.variant("swapped-swapfile-copy")
    with open(path, "rb") as f:
        contiguous = f.read()
    return fragmented_copy(contiguous, facts.resume_offset, [40, 80, 120, 200, 300], random.Random("fragmented"))[0]


def _gpt_primary_entries_zeroed(facts) -> List[Edit]:
    """The primary GPT's partition entries (LBA 2-33) wiped: its entries CRC32 fails."""
    return [(2 * 512, bytes(32 * 512))]



CORPUS: List[Case] = [
    # -- not a hibernation image: named, with the next step --------------------------------
    Case("random-bytes", "64 KiB of non-image bytes", _random,
         stderr=("not a hibernation image", "no S1SUSPEND/ULSUSPEND/SWAPSPACE2 signature")),
    Case("luks", "a LUKS header (encrypted swap)", _file([(0, b"LUKS\xba\xbe")]),
         stderr=("LUKS-encrypted volume", "cryptsetup open")),
    Case("luks-pslist", "the same LUKS header under a stock plugin: the stacker's refusal, the next step",
         _file([(0, b"LUKS\xba\xbe")]), plugin="linux.pslist", stderr=("LUKS-encrypted volume", "cryptsetup open")),
    Case("luks-safepgt", "the same LUKS header under linux.swsusp_safepgt: refused, not read as a RAM dump",
         _file([(0, b"LUKS\xba\xbe")]), plugin="linux.swsusp_safepgt",
         stderr=("LUKS-encrypted volume", "cryptsetup open")),
    Case("lvm-pv", "an LVM physical volume label", _file([(1024, b"LABELONE"), (1048, b"LVM2 001")]),
         stderr=("LVM physical volume", "vgchange -ay")),
    Case("ext4-no-swapfile", "an ext4 superblock, no swap file inside", _file([(1080, b"\x53\xef")]),
         stderr=("ext2/3/4 filesystem in which no swap-file header was found", "resume_offset")),
    Case("elf-ram-dump", "an ELF core file (a RAM dump)", _file([(0, b"\x7fELF\x02\x01\x01")]),
         stderr=("ELF file", "with vol directly")),
    Case("plain-swap", "a swap area whose image pointer is 0 (never hibernated, or cleared)",
         _edit("quickstart-lzo", lambda f: [(f.header_file_offset + 4056, bytes(20)),
                                            (f.header_file_offset + 4086, b"SWAPSPACE2")]),
         stderr=("plain swap area", "image pointer is 0", OFFSET)),
    Case("ram-dump-swap-header", "a raw RAM dump holding the kernel's copy of a swap header page (as "
         "`layerwriter` writes one)", _ram_dump_with_swap_header,
         stderr=("not a hibernation image", "the SWAPSPACE2 page at file offset 0x25000 is no swap area",
                 "looks like a RAM dump")),
    Case("swap-header-implausible", "a SWAPSPACE2 signature on a page swapon would refuse (version 7)",
         _file([(0, _swap_header_page(version=7))], size=64 * PAGE),
         stderr=("is no swap area (its swap header version is 7", OFFSET)),
    Case("consumed-pointer-dangling", "a consumed image whose pointer now leads outside the area",
         _edit("quickstart-consumed", lambda f: [(f.header_file_offset + 4064, struct.pack("<Q", 10**6))]),
         stderr=("plain swap area", "consumed image's pointer does not lead to one", "outside the swap area")),
    # -- refusals: the parts every page depends on are damaged -----------------------------
    Case("header-pointer-outside", "the header's first map block lies outside the swap area",
         _edit("quickstart-lzo", lambda f: [(f.header_file_offset + 4064, struct.pack("<Q", 10**6))]),
         stderr=("swap_map_page pointer 1000000 is outside the swap area", OFFSET)),
    Case("chain-loop", "a map chain that loops before any page is readable", _looping_chain,
         stderr=("swap_map_page chain loops back to block 1", OFFSET)),
    Case("chain-loop-pslist", "the same, under a stock plugin: the stacker refuses with the same line",
         _looping_chain, plugin="linux.pslist", stderr=("swap_map_page chain loops back to block 1", OFFSET)),
    Case("chain-loop-layerwriter", "the same, under layerwriter: nothing written", _looping_chain,
         plugin="layerwriter", stderr=("swap_map_page chain loops back to block 1", OFFSET)),
    Case("chain-loop-safepgt", "the same, under linux.swsusp_safepgt: refused, not read as a RAM dump",
         _looping_chain, plugin="linux.swsusp_safepgt", stderr=("swap_map_page chain loops back to block 1", OFFSET)),
    Case("chain-loop-symbols", "the same, under linux.swsusp_symbols", _looping_chain,
         plugin="linux.swsusp_symbols", stderr=("swap_map_page chain loops back to block 1", OFFSET)),
    Case("chain-loop-swaparea", "the same, under linux.swsusp_swaparea", _looping_chain,
         plugin="linux.swsusp_swaparea", stderr=("swap_map_page chain loops back to block 1", OFFSET)),
    Case("truncated-in-pfn-list", "the file ends inside the PFN list",
         _edit("era-6.1-none", lambda f: [], cut=lambda f: at(f, f.stream_blocks[1]) + 100),
         stderr=("beyond the end of the input (truncated file)", OFFSET)),
    Case("first-block-length", "compressed block #0 (the PFN list) claims 36 pages",
         _edit("quickstart-lzo", lambda f: [(block_of_compressed(f, 0), struct.pack("<Q", 36 * PAGE))]),
         stderr=("compressed block length 147456 is outside", "compressed block #0", OFFSET)),
    Case("pfn-repeated", "one PFN listed twice",
         _edit("era-6.1-none", lambda f: [(_pfn_entry(f, 1), struct.pack("<Q", f.pfn_entries[0]))]),
         stderr=("PFN listed twice", OFFSET)),
    Case("pfn-list-beyond-52-bits", "17 PFNs beyond the physical address space (no bit error: garbage)",
         _edit("era-6.1-none", lambda f: [(_pfn_entry(f, i), struct.pack("<Q", (1 << 45) + i)) for i in range(17)]),
         stderr=("PFN beyond the 52-bit physical address space", OFFSET)),
    Case("image-pages-lie", "swsusp_info.image_pages says fewer pages than the list holds",
         _edit("era-6.1-none", lambda f: [(_info(f) + 416, struct.pack("<Q", 100))]),
         stderr=("image_pages", OFFSET)),
    Case("x86-32-record", "a 32-bit x86 restore record",
         _edit("quickstart-lzo", lambda f: [(_info(f), bytes(40)), (_info(f) + 12, struct.pack("<I", 0x12345679))]),
         stderr=("restore record is 32-bit x86", OFFSET)),
    Case("other-architecture", "an image written by an arm64 kernel (uts machine aarch64)",
         _edit("quickstart-lzo", _other_arch),
         stderr=("written by a kernel for machine 'aarch64'", OFFSET)),
    # -- a right image, a wrong -e option: the option and the opener's reason ----------------
    Case("wrong-resume-offset", "an intact image, a wrong `-e swsusp.resume_offset` (stock plugin)",
         _edit("quickstart-lzo", lambda f: []), plugin="layerwriter", extend=("swsusp.resume_offset=5",),
         stderr=("(-e swsusp.resume_offset=5): no hibernation signature at offset 4086", OFFSET)),
    Case("wrong-partition", "an intact GPT disk, `-e swsusp.partition` naming its filesystem partition",
         _edit("gpt", lambda f: []), plugin="linux.pslist", extend=("swsusp.partition=1",),
         stderr=("(-e swsusp.partition=1): not a hibernation image: GPT partition 1",
                 "ext2/3/4 filesystem in which no swap-file header was found")),
    Case("option-typo", "an intact image, a misspelt `-e swsusp.` option name", _edit("quickstart-lzo", lambda f: []),
         plugin="linux.pslist", extend=("swsusp.resume_ofset=0",),
         stderr=("-e swsusp.resume_ofset: no such option; did you mean swsusp.resume_offset?", "known: btf")),
    # -- salvage: only the damaged part is lost --------------------------------------------
    Case("block-not-decompressing", "compressed block #3's data garbled",
         _edit("quickstart-lzo", lambda f: [(block_of_compressed(f, 3) + 8, bytes(64))]),
         exit_code=0, stderr=("Hibernation image damaged: 32 of 214 data pages unreadable",),
         stdout=("compressed block #3 (stream pages 97-128)", "32 pages lost", "does not decompress",
                 "not computable")),
    Case("block-length-damaged", "compressed block #2's length garbled (the next block is found again)",
         _edit("quickstart-lzo", lambda f: [(block_of_compressed(f, 2), struct.pack("<Q", 1 << 40))]),
         exit_code=0, stdout=("compressed block #2 (stream pages 65-96)", "32 pages lost",
                              "compressed block length")),
    Case("truncated-data", "the file ends inside compressed block #4",
         _edit("quickstart-lzo", lambda f: [], cut=lambda f: block_of_compressed(f, 4) + 100),
         exit_code=0, stdout=("compressed block #4", "beyond the end of the input (truncated file)")),
    Case("chain-broken", "the first of two map pages loops back to itself",
         _edit("medium-none", lambda f: [(at(f, f.map_blocks[0]) + 4088, struct.pack("<Q", f.map_blocks[0]))]),
         exit_code=0, stderr=("Hibernation image damaged",),
         stdout=("stream pages 511-693", "183 pages lost", "swap_map_page chain loops back")),
    Case("pfn-beyond-52-bits", "one PFN beyond the physical address space (its page only is lost)",
         _edit("era-6.1-none", lambda f: [(_pfn_entry(f, 0), struct.pack("<Q", 1 << 45))]),
         exit_code=0, stderr=("PFN list damaged: PFN list entry #0 holds 0x200000000000", "out of the list's "
                              "ascending order", "at file offset 0x3000"),
         stdout=("1 implausible entries rejected",)),
    Case("pfn-bit-flip-last", "bit 39 of the last PFN flipped: far beyond the machine's memory",
         _edit("era-6.1-none", lambda f: [(_pfn_entry(f, len(f.pfn_entries) - 1),
                                           struct.pack("<Q", f.pfn_entries[-1] ^ 1 << 39))]),
         exit_code=0, stderr=("PFN list damaged", "beyond the machine's memory", "num_physpages"),
         stdout=("0x11ff9f (num_physpages plus as much again",)),
    Case("pages-field-damaged", "bit 40 of swsusp_info.pages flipped (size still says the truth)",
         _edit("quickstart-lzo", lambda f: [(_info(f) + 424, struct.pack("<Q", f.info["pages"] ^ 1 << 40))]),
         exit_code=0, stderr=("size field damaged: swsusp_info.pages 1099511627992 (file offset 0x21a8) disagrees "
                              "with size: using 216 pages",),
         stdout=("none: every page listed is readable", "MATCH", "216 (the file holds 1099511627992: damaged")),
    Case("last-page-damaged", "mkswap last_page 15 where the image uses blocks up to 217",
         _edit("era-6.1-none", lambda f: [(f.header_file_offset + 1028, struct.pack("<I", 15))]),
         exit_code=0, stderr=("size field damaged: mkswap last_page 15 (file offset 0x404) is below block",
                              "ignored, the input's size")),
    Case("two-damaged-lengths", "compressed blocks #7 and #14 with their lengths garbled (each is found again)",
         _edit("medium-lzo", lambda f: damaged_lengths(f, [7, 14])),
         exit_code=0, stderr=("Hibernation image damaged: 64 of",),
         stdout=("compressed block #7 (stream pages 225-256)", "compressed block #14 (stream pages 449-480)",
                 "compressed block length")),
    Case("lzo-bombs", "every data block of incompressible-lzo rewritten as an LZO stream claiming ~255x "
         "its bytes (up to 34 MiB each, ~420 MiB in all; half with bytes after the stream's end)",
         _edit("incompressible-lzo", lambda f: bombed_blocks(f, range(1, f.num_blocks, 2))
               + bombed_blocks(f, range(2, f.num_blocks, 2), trailing=AFTER_END)),
         exit_code=0, stderr=("Hibernation image damaged",),
         stdout=("decompresses to", "expected 131072 (32 pages)", "data continues after the end of the LZO stream")),
    Case("codec-flag-flipped", "an intact LZO image whose flags say LZ4 (SF_COMPRESSION_ALG_LZ4 flipped)",
         _edit("quickstart-lzo", lambda f: flipped_flags(f, 16)),
         exit_code=0, stderr=("say LZ4 (SF_COMPRESSION_ALG_LZ4), but only LZO decodes compressed block #0",),
         stdout=("codec note", "MATCH")),
    Case("crc-mismatch", "the stored CRC32 differs from the data",
         _edit("quickstart-lzo", lambda f: [(f.header_file_offset + 4060, b"\x01\x02\x03\x04")]),
         exit_code=0, stderr=("CRC32 mismatch",), stdout=("MISMATCH",)),
    Case("gpt-primary-entries-damaged", "the primary GPT's partition entries wiped, the backup GPT intact",
         _edit("gpt", _gpt_primary_entries_zeroed), exit_code=0,
         stderr=("primary GPT damaged (partition entries CRC32 mismatch", "read from the backup GPT"),
         stdout=("GPT partition 2 of the backup GPT",)),
    # -- bounded time: a refusal costs the work the evidence needs, not the apparent size --
    Case("damaged-swap-1tib", "a 1 TiB swap partition (sparse) whose first map page is zeroed",
         _edit("quickstart-lzo", _first_map_page_zeroed), size=TIB, seconds=REFUSAL_SECONDS,
         stderr=("swap_map_page chain is empty", OFFSET)),
    Case("gpt-128-entries-1tib", "a 1 TiB GPT disk (sparse) whose 128 entries all name that damaged partition",
         _gpt_repeating, size=TIB, seconds=REFUSAL_SECONDS,
         stderr=("swap_map_page chain is empty", OFFSET)),
    Case("header-in-the-middle-1tib", "a 1 TiB sparse file whose only data is a header page at 512 GiB",
         _header_in_the_middle, size=TIB, place=TIB // 2, seconds=REFUSAL_SECONDS,
         stderr=("swap_map_page chain is empty", OFFSET)),
    Case("every-page-a-header", "a 64 MiB ext4-like filesystem whose every page reads as an S1SUSPEND header",
         _every_page_a_header, seconds=REFUSAL_SECONDS,
         stderr=("header-like pages found by scanning, the rest not looked at", "resume_offset")),
    Case("copied-swapfile-fragmented", "a fragmented swap file copied out of its filesystem, without its extents",
         _fragmented_copy, stderr=("its header names filesystem block", "swapfile_extents", OFFSET)),
    Case("resume-offset-negative", "`--resume-offset -1`", _edit("quickstart-lzo", lambda f: []),
         args=("--resume-offset", "-1"), stderr=("resume_offset -1 is negative",)),
    Case("resume-offset-beyond", "a resume_offset beyond the end of the input", _edit("quickstart-lzo", lambda f: []),
         args=("--resume-offset", "123456789"), stderr=("resume_offset 123456789 is beyond the end of the input",)),
]


def build(directory: Optional[str] = None, names: Optional[List[str]] = None) -> Dict[str, str]:
    """Write every case (or those named) as DIRECTORY/<name>.img; returns name -> path."""
    directory = directory or os.path.dirname(os.path.abspath(__file__))
    os.makedirs(directory, exist_ok=True)
    paths = {}
    with tempfile.TemporaryDirectory() as scratch:
        base = _Base(scratch)
        for case in CORPUS:
            if names is not None and case.name not in names:
                continue
            path = os.path.join(directory, f"{case.name}.img")
            with open(path, "wb") as f:
                f.seek(case.place)
                f.write(case.build(base))
                if case.size:
                    f.truncate(case.size)
            paths[case.name] = path
    return paths


def readme_table() -> str:
    """The README's table, from CORPUS (a test keeps them equal)."""
    rows = ["| image | defect | `vol` command | exit | says |", "|---|---|---|---|---|"]
    for c in CORPUS:
        says = "; ".join(f"`{s}`" for s in c.stderr + c.stdout if s != OFFSET)
        if OFFSET in c.stderr:
            says += " + the file offset"
        if c.seconds:
            says += f"; within {c.seconds:g} s"
        rows.append(f"| {c.name}.img | {c.defect} | `{' '.join(c.command())}` | {c.exit_code} | {says} |")
    return "\n".join(rows) + "\n"

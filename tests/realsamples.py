"""The real hibernation samples in ../shared/samples/real: located, decompressed once into
~/.cache/swsusp-safepgt (never into the repository), and their truth files parsed."""

import csv
import hashlib
import lzma
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SWSUSP_SHARED", REPO.parent / "shared"))
RELEASE = "6.1.0-56-amd64"
SAMPLES = SHARED / "samples" / "real" / RELEASE
CACHE = Path(os.environ.get("SWSUSP_CACHE", Path.home() / ".cache" / "swsusp-safepgt" / "real"))
MISSING_REASON = (
    f"real samples not found at {SAMPLES} (../shared is absent in a fresh clone; "
    "set SWSUSP_SHARED to its path to run these tests)"
)

# run name -> image file, as the samples README names them
RUNS = {"lzo": "swap-lzo.img", "nocompress": "swap-nocompress.img", "lzo-b": "swap-lzo-b.img"}
KERNEL_TEXT = (0xFFFFFFFF81000000, 0xFFFFFFFF81E02000)  # _text .. _etext (System.map)
RESTORE_REGISTERS = 0xFFFFFFFF819D5000  # System.map: where jump_address points


class RealSamples:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        digest = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()[:12]
        self.cache = CACHE / digest

    @classmethod
    def find(cls) -> Optional["RealSamples"]:
        return cls(SAMPLES) if (SAMPLES / "SHA256SUMS").is_file() else None

    @property
    def symbols(self) -> Path:
        return SHARED / "symbols"

    def path(self, name: str) -> Path:
        """A sample file, decompressed into the cache on first use (atomic rename)."""
        out = self.cache / name
        if out.exists():
            return out
        src = self.folder / (name + ".xz")
        if not src.exists():
            src = self.folder / name
            if src.exists():
                return src
            raise FileNotFoundError(f"{name} is not among the real samples in {self.folder}")
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{name}.{os.getpid()}.tmp")
        with lzma.open(src) as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        os.replace(tmp, out)
        return out

    def image(self, run: str) -> Path:
        return self.path(RUNS[run])

    def consumed_image(self) -> Path:
        """Run B after its resume: the same disk with `SWAPSPACE2` written at offset 4086."""
        out = self.cache / "swap-lzo-b-consumed.img"
        if not out.exists():
            tmp = out.with_name(f".consumed.{os.getpid()}.tmp")
            shutil.copyfile(self.image("lzo-b"), tmp)
            with open(tmp, "r+b") as f:
                f.seek(4086)
                f.write(b"SWAPSPACE2")
            os.replace(tmp, out)
        return out

    def page_digests(self, run: str) -> Dict[int, str]:
        """PFN -> BLAKE2b-128 hex of the pre-hibernation dump's page."""
        digests = {}
        with open(self.path(f"prehib-{run}.pagedigest.tsv")) as f:
            for line in f:
                if not line.startswith("#") and line.strip():
                    pfn, digest = line.split()
                    digests[int(pfn, 16)] = digest
        return digests

    def truth_csv(self, name: str) -> List[dict]:
        with open(self.folder / name) as f:
            return list(csv.DictReader(line for line in f if not line.startswith("Volatility")))


def tasks(rows: List[dict]) -> Set[Tuple[int, int, str]]:
    return {(int(r["PID"]), int(r["PPID"]), r["COMM"]) for r in rows}


def parse_csv_output(text: str) -> List[dict]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("Volatility 3")]
    return list(csv.DictReader(lines))


def vol_command() -> str:
    """The `vol` script of the running environment (the one pip installed)."""
    beside = Path(sys.executable).with_name("vol")
    return str(beside) if beside.exists() else (shutil.which("vol") or "vol")


class VolRunner:
    """The real `vol` command line, with the checkout's plugins and a private cache."""

    def __init__(self, cache_home: Path) -> None:
        self.cache_home = cache_home

    def home(self, symbols: Optional[Path] = None) -> Path:
        """The XDG_CACHE_HOME of runs with this symbol path: one identifier cache (and one
        record of validated ISFs) per symbol-path set, shared by the session."""
        sym = [str(REPO / "symbols")] + ([str(symbols)] if symbols else [])
        home = self.cache_home / hashlib.sha256(";".join(sym).encode()).hexdigest()[:8]
        home.mkdir(exist_ok=True)
        return home

    def __call__(self, *args: str, symbols: Optional[Path] = None, timeout: int = 600, plugins: bool = True):
        sym = [str(REPO / "symbols")] + ([str(symbols)] if symbols else [])
        cmd = [vol_command(), "-q"]
        if plugins:
            cmd += ["-p", str(REPO / "plugins"), "-s", ";".join(sym)]
        cmd += list(args)
        env = dict(os.environ, XDG_CACHE_HOME=str(self.home(symbols)))
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def elf_layer(path: Path):
    """Volatility's ELF layer over a QEMU dump: its physical memory."""
    from volatility3.framework import contexts
    from volatility3.framework.layers import elf, physical

    ctx = contexts.Context()
    ctx.config["file.location"] = Path(path).as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
    ctx.config["elf.base_layer"] = "file"
    ctx.add_layer(elf.Elf64Layer(ctx, "elf", "elf"))
    return ctx.layers["elf"]


def qemu_cr3s(path: Path) -> List[int]:
    """CR3 of each CPU from a QEMU ELF dump's "QEMU" notes (struct QEMUCPUState of QEMU's
    target/i386/arch_dump.c: version, size, 18 registers, 10 segments of 24 bytes, cr[5])."""
    with open(path, "rb") as f:
        head = f.read(64)
        (phoff,) = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        cr3s = []
        for i in range(phnum):
            p_type, _flags, offset, _va, _pa, filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
            if p_type != 4:  # PT_NOTE
                continue
            f.seek(offset)
            notes, pos = f.read(filesz), 0
            while pos + 12 <= len(notes):
                namesz, descsz, _type = struct.unpack_from("<III", notes, pos)
                desc = pos + 12 + ((namesz + 3) & ~3)
                if notes[pos + 12 : pos + 12 + namesz].rstrip(b"\0") == b"QEMU":
                    cr3s.append(struct.unpack_from("<5Q", notes, desc + 8 + 18 * 8 + 10 * 24)[3])
                pos = desc + ((descsz + 3) & ~3)
    return cr3s

"""The boot environment of a resume, as a user copies it off the booted machine: the files of
a `--boot-facts` folder (README "My laptop did not resume"), written the way the kernel
prints them, and the resume pairs (image + boot environment) of ``linux.swsusp_resume``.

Each file is the output of one command on the booted machine:

    uname     uname -a                       zoneinfo  cat /proc/zoneinfo
    cmdline   cat /proc/cmdline              power     grep -r . /sys/power
    memmap    grep -r . /sys/firmware/memmap FACS      cp /sys/firmware/acpi/tables/FACS
    dmesg     dmesg                          crypto    cat /proc/crypto
                                             config    cp /boot/config-$(uname -r) config
                                             lockdown  cat /sys/kernel/security/lockdown

Imports nothing from ``plugins/``: the formats follow the kernel's printing code
(arch/x86/kernel/e820.c e820_print_type() and e820_type_to_string(), mm/vmstat.c
zoneinfo_show_print(), drivers/firmware/memmap.c, crypto/proc.c, include/acpi/actbl.h).
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace

PAGE = 4096
ZONES = (("DMA", 0, 1 << 12), ("DMA32", 1 << 12, 1 << 20), ("Normal", 1 << 20, 1 << 52))  # PFNs: 16 MiB, 4 GiB
DMESG_TYPE = {1: "usable", 2: "reserved", 3: "ACPI data", 4: "ACPI NVS", 5: "unusable"}
MEMMAP_TYPE = {1: "System RAM", 2: "Reserved", 3: "ACPI Tables", 4: "ACPI Non-volatile Storage",
               5: "Unusable memory"}


@dataclass(frozen=True)
class BootEnv:
    """A booted machine as the checks see it."""

    release: str
    cmdline: str
    e820: tuple[tuple[int, int, int], ...]  # e820_table_firmware: (addr, size, type)
    ram_pfns: tuple[tuple[int, int], ...]  # memblock's RAM, [start, end) PFNs: the zones' present pages
    facs_signature: int = 0
    crypto: tuple[str, ...] = ("lzo",)  # compressors registered (/proc/crypto), built in (the config)
    resume_sysfs: str = "0:0"  # /sys/power/resume
    lockdown: str = "none"  # /sys/kernel/security/lockdown's level
    files: tuple[str, ...] = ("uname", "cmdline", "memmap", "dmesg", "zoneinfo", "power", "FACS", "crypto", "config",
                             "lockdown")
    iomem_ram: tuple[tuple[int, int], ...] = ()  # when set, an iomem file: RAM as [start, end) bytes

    @classmethod
    def of_machine(cls, machine, release: str = "6.1.0-56-amd64", cmdline: str = "") -> "BootEnv":
        """The boot environment of the machine that wrote the image, booted again."""
        return cls(release=release, cmdline=cmdline or f"BOOT_IMAGE=/vmlinuz-{release} root=/dev/sda1 ro "
                   "resume=/dev/sda2", e820=tuple(machine.e820), ram_pfns=tuple(machine.ram_pfns))

    def with_(self, **changes) -> "BootEnv":
        return replace(self, **changes)

    @property
    def present_pages(self) -> int:
        return sum(end - start for start, end in self.ram_pfns)

    def write(self, folder: str) -> str:
        os.makedirs(folder, exist_ok=True)
        for name in self.files:
            data = getattr(self, "_" + name.lower())()
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
        if self.iomem_ram:
            with open(os.path.join(folder, "iomem"), "w") as f:
                f.write(self._iomem())
        return folder

    # -- one file each ---------------------------------------------------------------------

    def _uname(self) -> str:
        return (f"Linux laptop {self.release} #1 SMP PREEMPT_DYNAMIC Debian {self.release} (2026-11-20) "
                "x86_64 GNU/Linux\n")

    def _cmdline(self) -> str:
        return self.cmdline + "\n"

    def _memmap(self) -> str:
        lines = []
        for n, (addr, size, kind) in enumerate(self.e820):
            lines += [f"/sys/firmware/memmap/{n}/end:{addr + size - 1:#x}",
                      f"/sys/firmware/memmap/{n}/type:{MEMMAP_TYPE.get(kind, 'Reserved')}",
                      f"/sys/firmware/memmap/{n}/start:{addr:#x}"]
        return "\n".join(lines) + "\n"

    def _dmesg(self) -> str:
        lines = [f"[    0.000000] Linux version {self.release} (debian-kernel@lists.debian.org) (gcc-12) #1 SMP "
                 "PREEMPT_DYNAMIC Debian", f"[    0.000000] Command line: {self.cmdline}",
                 "[    0.000000] BIOS-provided physical RAM map:"]
        for addr, size, kind in self.e820:
            lines.append(f"[    0.000000] BIOS-e820: [mem {addr:#018x}-{addr + size - 1:#018x}] "
                         f"{DMESG_TYPE.get(kind, f'type {kind}')}")
        return "\n".join(lines) + "\n"

    def _zoneinfo(self) -> str:
        out = []
        for name, low, high in ZONES:
            present = sum(max(0, min(end, high) - max(start, low)) for start, end in self.ram_pfns)
            if not present:
                continue
            starts = [max(start, low) for start, end in self.ram_pfns if min(end, high) > max(start, low)]
            ends = [min(end, high) for start, end in self.ram_pfns if min(end, high) > max(start, low)]
            out.append(f"Node 0, zone {name:>8}\n  per-node stats\n      nr_inactive_anon 12\n"
                       f"  pages free     {present // 2}\n        boost    0\n        min      {present // 100}\n"
                       f"        spanned  {max(ends) - min(starts)}\n        present  {present}\n"
                       f"        managed  {present - present // 50}\n        cma      0\n"
                       f"  start_pfn:           {min(starts)}\n")
        return "".join(out)

    def _power(self) -> str:
        return (f"/sys/power/resume:{self.resume_sysfs}\n/sys/power/resume_offset:0\n/sys/power/image_size:98765824\n"
                "/sys/power/disk:[platform] shutdown reboot suspend test_resume\n/sys/power/state:freeze mem disk\n")

    def _facs(self) -> bytes:
        # struct acpi_table_facs: signature, length, hardware_signature, firmware_waking_vector, ...
        return struct.pack("<4sIIII", b"FACS", 64, self.facs_signature, 0, 0) + bytes(44)

    def _crypto(self) -> str:
        return "".join(f"name         : {algo}\ndriver       : {algo}-generic\nmodule       : kernel\n"
                       f"priority     : 0\nrefcnt       : 1\nselftest     : passed\ninternal     : no\n"
                       "type         : compression\n\n" for algo in self.crypto)

    def _config(self) -> str:
        lines = ["CONFIG_HIBERNATION=y"]
        for algo in ("lzo", "lz4"):
            lines.append(f"CONFIG_CRYPTO_{algo.upper()}=y" if algo in self.crypto
                         else f"# CONFIG_CRYPTO_{algo.upper()} is not set")
        return "\n".join(lines) + "\n"

    def _lockdown(self) -> str:
        return " ".join(f"[{level}]" if level == self.lockdown else level
                        for level in ("none", "integrity", "confidentiality")) + "\n"

    def _iomem(self) -> str:
        lines = []
        for start, end in self.iomem_ram:
            lines.append(f"{start:08x}-{end - 1:08x} : System RAM")
            if start <= 0x1000000 < end:
                lines.append("  01000000-01ffffff : Kernel code")
        return "\n".join(lines) + "\n"

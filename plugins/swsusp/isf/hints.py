"""Naming a kernel from its banner, and the next step when no ISF matches it.

The reference ISF of a kernel is built by dwarf2json from the vmlinux with DWARF that the
distribution ships in a debug package; the banner says which distribution built the kernel.
"""
from __future__ import annotations

import re

_RELEASE = re.compile(rb"Linux version (\S+)")
DWARF2JSON = "dwarf2json linux --elf {vmlinux} | xz -c > {release}.json.xz"


def release_of(banner: bytes) -> str:
    """The kernel release (`uname -r`) a banner names, or the banner's start."""
    match = _RELEASE.match(banner)
    if match:
        return match.group(1).decode("latin-1")
    return banner[:60].decode("latin-1", "replace").rstrip("\n\0") or "(unknown)"


def short_banner(banner: bytes) -> str:
    """The banner as one line of text (no trailing newline or NUL)."""
    return banner.rstrip(b"\0").rstrip(b"\n").decode("latin-1")


def debug_package(banner: bytes) -> tuple[str | None, str]:
    """(debug package name, path of its vmlinux), as the distribution that built the kernel
    names them; the package is None when the banner does not say which distribution."""
    release = release_of(banner)
    text = banner.decode("latin-1", "replace")
    if "Ubuntu" in text:
        return (f"linux-image-unsigned-{release}-dbgsym (Ubuntu, from ddebs.ubuntu.com)",
                f"/usr/lib/debug/boot/vmlinux-{release}")
    if "Debian" in text:
        return f"linux-image-{release}-dbg (Debian)", f"/usr/lib/debug/boot/vmlinux-{release}"
    if re.search(r"\.(fc\d+|el\d+)", release) or "Red Hat" in text:
        return (f"kernel-debuginfo-{release} (dnf debuginfo-install kernel-{release})",
                f"/usr/lib/debug/lib/modules/{release}/vmlinux")
    if "SUSE" in text or release.endswith(("-default", "-azure")):
        flavour = release.rsplit("-", 1)[-1]
        return f"kernel-{flavour}-debuginfo (SUSE)", f"/usr/lib/debug/boot/vmlinux-{release}.debug"
    return None, f"the vmlinux with debug information of kernel {release}"


def dwarf2json_command(banner: bytes) -> str:
    package, vmlinux = debug_package(banner)
    if package is None:
        vmlinux = "VMLINUX"
    return DWARF2JSON.format(vmlinux=vmlinux, release=release_of(banner))


def next_step(banner: bytes, btf_switched_off: bool = False) -> str:
    """What to do when no ISF matches the kernel of `banner`."""
    package, vmlinux = debug_package(banner)
    source = f"the debug package {package}" if package else vmlinux
    step = (f"Build its ISF from {source} with `{dwarf2json_command(banner)}` "
            "and give its folder with -s")
    if btf_switched_off:
        step += ", or drop -e swsusp.btf=false to build one from the kernel's own BTF"
    return step

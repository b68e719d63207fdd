"""What an input that holds no hibernation image is, so the refusal can say what to do next.

Analysts try encrypted swap, LVM volumes, filesystems and RAM dumps on a hibernation reader;
each gets a name and the next step instead of a bare "not an image".
"""

from typing import Optional

from .header import SWAP_SIGS
from .locate import FS_MAGICS
from .structs import PAGE_SIZE, SIG_LEN, SIG_OFFSET

_FS_NAMES = ("ext2/3/4", "XFS", "btrfs", "f2fs")


def identify(source, offset: int = 0) -> Optional[str]:
    """A one-phrase description of the data at `offset` (None when unknown)."""
    head = source.read(offset, PAGE_SIZE)
    if head[:6] == b"LUKS\xba\xbe":
        return ("a LUKS-encrypted volume (encrypted swap?): open it with `cryptsetup open` and give the "
                "decrypted device (/dev/mapper/...) instead")
    for sector in range(4):  # the LVM2 label may sit in any of the first four sectors
        label = head[512 * sector : 512 * sector + 32]
        if label[:8] == b"LABELONE" and label[24:32] == b"LVM2 001":
            return ("an LVM physical volume: activate its volume group (`vgchange -ay`) and give the swap "
                    "logical volume (/dev/VG/swap) instead")
    if head[:4] == b"\x7fELF":
        return "an ELF file (a RAM dump such as QEMU's dump-guest-memory?): analyse it with vol directly"
    if head[:4] == b"EMiL":
        return "a LiME RAM dump: analyse it with vol directly"
    if head[:4] == b"QEVM":
        return "a QEMU savevm state: analyse it with vol directly"
    if head[SIG_OFFSET : SIG_OFFSET + SIG_LEN] in SWAP_SIGS:
        return "a swap area"
    for (at, magic), name in zip(FS_MAGICS, _FS_NAMES):
        if source.read(offset + at, len(magic)) == magic:
            return (f"an {name} filesystem in which no swap-file header was found: give the kernel's "
                    "resume_offset (the swap file's first block) if it held one")
    return None

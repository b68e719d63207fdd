"""linux.swsusp_info: what a Linux x86-64 hibernation image says about itself (no ISF needed)."""

import logging

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from volatility3.plugins.swsusp.format.header import decode_flags
from volatility3.plugins.swsusp.vol import nosym
from volatility3.plugins.swsusp.vol.inputs import open_input

vollog = logging.getLogger(__name__)


def _runs(pfns) -> list:
    """Sorted PFNs as [first, last] runs."""
    runs = []
    for pfn in pfns:
        if runs and pfn == runs[-1][1] + 1:
            runs[-1][1] = pfn
        else:
            runs.append([pfn, pfn])
    return runs


MAX_RUN_ROWS = 4096  # per damaged part: a truncated multi-GiB image can lose many runs


def _at(base, delta):
    return None if base is None else base + delta


class SwsuspInfo(interfaces.plugins.PluginInterface):
    """Describes a Linux hibernation image: header, restore record, codec, CRC, PFNs, banner.

    Works on a swap partition, a filesystem partition holding a swap file, a whole disk
    with an MBR/GPT, or a consumed image (signature reset by a resume).  Needs no symbols.
    """

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls):
        return [
            requirements.IntRequirement(
                name="resume_offset", optional=True,
                description="The kernel's resume_offset: 4 KiB block of the header in the partition (found by scanning if not given)",
            ),
            requirements.IntRequirement(
                name="partition", optional=True, description="Partition number (1-based) of a whole-disk image to look in",
            ),
            requirements.BooleanRequirement(
                name="no_crc", optional=True, default=False,
                description="Skip decompressing the whole image to verify its CRC32",
            ),
        ]

    def _generator(self, image):
        h, info, record, loc = image.header, image.info, image.info.record, image.location
        na = renderers.NotApplicableValue()
        # an s2disk image compresses its swsusp_info page: no file offset inside it
        info_at = None if image.uswsusp and image.codec != "none" else info.offset

        def row(section, field, value, offset=None):
            return 0, (section, field, str(value), format_hints.Hex(offset) if offset is not None else na)

        yield row("input", "location", loc.how, loc.header_offset)
        yield row("input", "partition offset", f"{loc.partition.offset:#x} ({loc.partition.name})", loc.partition.offset)
        yield row("input", "resume_offset", loc.resume_offset)
        if loc.block_base:
            yield row("input", "block_base", loc.block_base)

        yield row("header", "image kind", image.kind)
        yield row("header", "signature", h.signature, h.offset + 4086)
        yield row("header", "orig_sig", h.orig_sig.rstrip(b"\0").decode("ascii", "replace"), h.offset + 4076)
        yield row("header", "state", "CONSUMED (signature reset by a resume; data intact)" if h.consumed else "live image")
        yield row("header", "layout", f"{h.layout.name} ({h.layout.era})")
        if image.uswsusp:
            u = image.uswsusp
            yield row("header", "image (byte offset of image_header_info)", f"{h.image:#x}", h.offset + h.layout.image)
            yield row("s2disk", "flags", f"{u.flags:#x} {' '.join(u.flag_names) or '(none)'}", u.offset + 8)
            yield row("s2disk", "pages", u.pages, u.offset)
            yield row("s2disk", "map_start", f"{u.map_start:#x}", u.offset + 16)
            yield row("s2disk", "image_data_size", u.image_data_size, u.offset + 24)
        else:
            yield row("header", "image (first swap_map_page)", h.image, h.offset + h.layout.image)
        if h.layout.flags is not None:
            yield row("header", "flags", f"{h.flags:#x} {' '.join(decode_flags(h.flags)) or '(none)'}", h.offset + h.layout.flags)
        if h.hw_sig_valid:
            yield row("header", "hw_sig", f"{h.hw_sig:#010x}", h.offset + h.layout.hw_sig)
        yield row("header", "mkswap last_page", h.last_page, h.offset + 1028)

        yield row("stream", "codec", image.codec)
        yield row("stream", "extents pages" if image.uswsusp else "swap_map pages", len(image.swap_map.map_blocks))
        yield row("stream", "stream entries", len(image.swap_map))
        if image.codec != "none":
            yield row("stream", "compressed blocks", image.nr_blocks)
        yield from self._crc_rows(image, row)
        yield from self._damage_rows(image, row)

        yield row("swsusp_info", "num_physpages", info.num_physpages, _at(info_at, 400))
        yield row("swsusp_info", "image_pages", info.image_pages, _at(info_at, 416))
        yield row("swsusp_info", "pages", info.pages, _at(info_at, 424))
        yield row("swsusp_info", "size", info.size, _at(info_at, 432))
        yield row("swsusp_info", "metadata (PFN list) pages", info.meta_pages)
        if info.version_code:
            yield row("swsusp_info", "version_code", f"{info.version_code:#x} ({info.kernel_version})", _at(info_at, 392))
            yield row("swsusp_info", "cpus", info.cpus, _at(info_at, 408))
        if info.uts:
            for name, value in info.uts.items():
                yield row("swsusp_info", f"uts.{name}", value)

        if record:
            yield row("restore_data_record", "magic", f"{record.magic:#018x} {record.layout}")
            yield row("restore_data_record", "jump_address", f"{record.jump_address:#x}", info_at)
            if record.jump_address_phys is not None:
                yield row("restore_data_record", "jump_address_phys", f"{record.jump_address_phys:#x}", _at(info_at, 8))
                yield row("restore_data_record", "phys_base", f"{record.phys_base:#x}")
            yield row("restore_data_record", "cr3", f"{record.cr3:#x}", _at(info_at, 8 if record.version == 1 else 16))
            if record.e820_digest is not None:
                yield row("restore_data_record", "e820_digest (MD5)", record.e820_digest.hex(), _at(info_at, 32))
            if record.e820_checksum is not None:
                yield row("restore_data_record", "e820_checksum", f"{record.e820_checksum:#010x}", _at(info_at, 32))
        else:
            yield row("restore_data_record", "present", "no (x86-64 kernel before 2.6.24: uts written instead)")

        yield row("memory", "PFN list form", image.pfns.form)
        yield row("memory", "PFN list ascending", image.pfns.ascending)
        yield row("memory", "PFN range", f"{image.min_pfn:#x}-{image.max_pfn:#x}")
        yield row("memory", "data pages", len(image.pfns.data_pfns))
        yield row("memory", "zero pages (6.6+, not stored)", image.zero_page_count)
        yield row("memory", "index bytes", image.index_nbytes())

        self._progress_callback(0, "Looking for the kernel banner")
        banners = image.find_banners()
        if not banners:
            yield row("kernel", "banner", "not found")
        for address, banner in banners:
            text = banner.rstrip(b"\0").decode("latin-1").rstrip("\n")
            yield row("kernel", "banner at physical address", text, address)
        yield from nosym.info_rows(self.context, image, banners, row)  # which ISF, BTF, the next step

    def _crc_rows(self, image, row):
        if image.uswsusp:
            yield from self._md5_rows(image, row)
            return
        h = image.header
        stored = f"{h.crc32:#010x}" if h.crc32_valid else "not recorded (no SF_CRC32_MODE)"
        yield row("stream", "crc32 stored", stored, h.offset + 4060 if h.crc32_valid else None)
        if self.config.get("no_crc", False):
            return
        computed = image.compute_crc32(self._progress_callback)
        if computed is None:
            verdict = f"not computable: {len(image.damage)} damaged part(s) of the stream (see damage)"
        elif not h.crc32_valid:
            verdict = f"{computed:#010x} (nothing to compare)"
        elif computed == h.crc32:
            verdict = f"{computed:#010x} MATCH"
        else:
            verdict = f"{computed:#010x} MISMATCH: the image data differs from what was written"
            vollog.warning(f"Hibernation image CRC32 mismatch: stored {h.crc32:#010x}, computed {computed:#010x}")
        yield row("stream", "crc32 computed", verdict)

    def _md5_rows(self, image, row):
        stored = image.uswsusp.checksum.hex() if image.md5_valid else "not recorded (no IMAGE_CHECKSUM)"
        yield row("stream", "md5 stored", stored, image.uswsusp.offset + 32 if image.md5_valid else None)
        if self.config.get("no_crc", False) or not image.md5_valid:
            return
        computed = image.compute_md5(self._progress_callback)
        if computed is None:
            yield row("stream", "md5 computed", f"not computable: {len(image.damage)} damaged part(s) of the stream")
            return
        computed = computed.hex()
        if computed == stored:
            yield row("stream", "md5 computed", f"{computed} MATCH")
        else:
            vollog.warning(f"s2disk image MD5 mismatch: stored {stored}, computed {computed}")
            yield row("stream", "md5 computed", f"{computed} MISMATCH: the image data differs from what was written")

    def _damage_rows(self, image, row):
        """Salvage: which pages are missing and why (the CRC pass found every damaged block)."""
        checked = not self.config.get("no_crc", False) or image.codec == "none"
        if not image.damage:
            yield row("damage", "summary", "none: every page listed is readable" if checked
                      else "not checked (--no-crc: compressed blocks not read)")
            return
        lost = [image.damaged_pfns(d) for d in image.damage]
        total = sum(map(len, lost))
        vollog.warning(f"Hibernation image damaged: {total} of {len(image.pfns.data_pfns)} data pages unreadable "
                       f"in {len(image.damage)} part(s); the other pages are intact")
        known = "" if checked else " (so far: --no-crc left compressed blocks unread)"
        yield row("damage", "summary", f"{total} of {len(image.pfns.data_pfns)} data pages unreadable in "
                  f"{len(image.damage)} damaged part(s){known}; all other pages are readable")
        for damage, pfns in zip(image.damage, lost):
            runs = _runs(pfns)
            yield row("damage", damage.where, f"{len(pfns)} pages lost in {len(runs)} PFN run(s): "
                      f"{damage.error.reason}", damage.error.offset)
            for first, last in runs[:MAX_RUN_ROWS]:  # the full list, one child row per run
                yield 1, ("damage", "lost PFNs", f"{first:#x}-{last:#x} ({last - first + 1} pages)"
                          if last > first else f"{first:#x} (1 page)", renderers.NotApplicableValue())
            if len(runs) > MAX_RUN_ROWS:
                yield 1, ("damage", "lost PFNs", f"… {len(runs) - MAX_RUN_ROWS} more runs",
                          renderers.NotApplicableValue())

    def run(self):
        image = open_input(self.context, self.config.get("resume_offset", None), self.config.get("partition", None))
        return renderers.TreeGrid(
            [("Section", str), ("Field", str), ("Value", str), ("Offset", format_hints.Hex)],
            self._generator(image),
        )

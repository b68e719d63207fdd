"""linux.swsusp_info: what a Linux x86-64 hibernation image says about itself (no ISF needed)."""

import logging

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements
from volatility3.framework.renderers import format_hints

from volatility3.plugins.swsusp.format import describe
from volatility3.plugins.swsusp.vol import nosym
from volatility3.plugins.swsusp.vol.inputs import open_configured, placement_requirements

vollog = logging.getLogger(__name__)


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
            *placement_requirements(),
            requirements.BooleanRequirement(
                name="no_crc", optional=True, default=False,
                description="Skip decompressing the whole image to verify its CRC32",
            ),
        ]

    def _rows(self, image):
        check = not self.config.get("no_crc", False)
        yield from describe.input_rows(image)
        yield from describe.header_rows(image)
        yield from describe.stream_rows(image, check, vollog.warning, self._progress_callback)
        yield from describe.damage_rows(image, check, vollog.warning)
        yield from describe.info_rows(image)
        yield from describe.memory_rows(image)
        self._progress_callback(0, "Looking for the kernel banner")
        banners = image.find_banners()
        yield from describe.banner_rows(banners)
        # which ISF matches, BTF present or not, the next step
        yield from nosym.info_rows(
            self.context, image, banners,
            lambda section, field, value, offset: describe.Row(section, field, str(value), offset))

    def _generator(self, image):
        na = renderers.NotApplicableValue()
        for row in self._rows(image):
            offset = format_hints.Hex(row.offset) if row.offset is not None else na
            yield row.depth, (row.section, row.field, row.value, offset)

    def run(self):
        image = open_configured(self.context, self.config)
        return renderers.TreeGrid(
            [("Section", str), ("Field", str), ("Value", str), ("Offset", format_hints.Hex)],
            self._generator(image),
        )

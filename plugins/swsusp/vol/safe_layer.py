"""Physical memory plus rebuilt safe page tables: decode a hibernation image through tables
that no restore could have broken (`-e swsusp.safe_tables=true` with any plugin).

The rebuilt table pages live in frames the image does not contain, so they are added to the
image's physical memory without hiding any of it.  The layer is rebuilt from its config
(the image layer below it); the tables are computed once per opened image, kept while the
image is (layer.IMAGES holds the opened images)."""

import logging
import threading
import weakref
from typing import List

from volatility3.framework import exceptions, interfaces
from volatility3.framework.configuration import requirements

from volatility3.plugins.swsusp.analysis import kernel_tables, safe_tables
from volatility3.plugins.swsusp.analysis.image import HibernationImage
from volatility3.plugins.swsusp.memory import PAGE_SIZE
from volatility3.plugins.swsusp.vol.layer import EvidencePhysicalLayer, SwsuspLayer

vollog = logging.getLogger(__name__)
_TABLES: "weakref.WeakKeyDictionary[HibernationImage, safe_tables.SafeTables]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def safe_tables_for(image: HibernationImage) -> safe_tables.SafeTables:
    """The image kernel's tables rebuilt in frames the image does not list (once per image).
    A PagingError when they cannot be (no restore record, no direct map, no safe frame)."""
    with _LOCK:
        tables = _TABLES.get(image)
    if tables is None:
        paging, dm = kernel_tables.image_paging(image)
        tables = safe_tables.rebuild(paging, dm, image.has_pfn, (0x100, image.max_pfn + 1))
        with _LOCK:
            tables = _TABLES.setdefault(image, tables)
    return tables


class SafeTablesLayer(EvidencePhysicalLayer):
    """The image's physical memory with the rebuilt safe tables added in free frames."""

    def __init__(self, context, config_path: str, name: str, metadata=None) -> None:
        super().__init__(context, config_path, name, metadata)
        base = context.layers[self._base_layer]
        if not isinstance(base, SwsuspLayer):
            raise exceptions.LayerException(name, "safe tables need a hibernation image layer below them")
        self._base = base
        self.tables = safe_tables_for(base.image)
        self._max = max(base.maximum_address, (max(self.tables.pages) + 1) * PAGE_SIZE - 1)

    @classmethod
    def get_requirements(cls) -> List[interfaces.configuration.RequirementInterface]:
        return [requirements.TranslationLayerRequirement(name="base_layer", optional=False,
                                                         description="The hibernation image's physical layer")]

    def _table_page(self, pfn: int):
        return self.tables.pages.get(pfn)

    def is_valid(self, offset: int, length: int = 1) -> bool:
        first, last = offset // PAGE_SIZE, (offset + max(length, 1) - 1) // PAGE_SIZE
        pfns = range(first, last + 1)
        return all(self._table_page(p) is not None or self._base.is_valid(p * PAGE_SIZE) for p in pfns)

    def read(self, offset: int, length: int, pad: bool = False) -> bytes:
        first, last = offset // PAGE_SIZE, (offset + max(length, 1) - 1) // PAGE_SIZE
        if not any(self._table_page(p) is not None for p in range(first, last + 1)):
            return self._base.read(offset, length, pad)
        out, pos, end = [], offset, offset + length
        while pos < end:
            pfn, off = divmod(pos, PAGE_SIZE)
            n = min(end - pos, PAGE_SIZE - off)
            page = self._table_page(pfn)
            out.append(bytes(page[off : off + n]) if page is not None else self._base.read(pos, n, pad))
            pos += n
        return b"".join(out)

    def mapping(self, offset: int, length: int, ignore_errors: bool = False):
        yield from self._base.mapping(offset, length, ignore_errors)

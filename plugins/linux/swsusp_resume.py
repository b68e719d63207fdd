"""linux.swsusp_resume: why did this resume fail?  The boot kernel's resume checks, replayed."""

import logging

from volatility3.framework import interfaces, renderers
from volatility3.framework.configuration import requirements

from volatility3.plugins.swsusp.analysis import resume_checks
from volatility3.plugins.swsusp.analysis.boot_facts import BootFacts
from volatility3.plugins.swsusp.analysis.boot_text import BootFactsError, read_boot_facts
from volatility3.plugins.swsusp.vol.boot_dump import read_boot_dump
from volatility3.plugins.swsusp.vol.inputs import open_configured, placement_requirements
from volatility3.plugins.swsusp.vol.refusal import Refusal

vollog = logging.getLogger(__name__)


class SwsuspResume(interfaces.plugins.PluginInterface):
    """Replays, in the kernel's order, the checks a boot kernel makes before and while it
    resumes a hibernation image (swsusp_check, the compressor, check_header and the x86-64
    restore record, the PFN list, the data and its CRC32): one row per check, with the
    kernel's own message for a failure and the two values compared.  The boot side comes
    from a RAM dump of the boot kernel (--boot-dump) and/or facts copied from the machine
    (--boot-facts); the first FAIL is the verdict."""

    _required_framework_version = (2, 0, 0)
    _version = (1, 0, 0)

    @classmethod
    def get_requirements(cls):
        return [
            *placement_requirements(),
            requirements.StringRequirement(
                name="boot_dump", optional=True,
                description="A RAM dump of the boot kernel that tried to resume the image (ELF, LiME, raw...: any "
                            "format Volatility reads); symbols from the ISF path, else built from its BTF",
            ),
            requirements.StringRequirement(
                name="boot_facts", optional=True,
                description="A folder of facts copied from the booted machine (uname, cmdline, memmap, dmesg, "
                            "zoneinfo, iomem, power, FACS, crypto, config: see the README)",
            ),
            requirements.BooleanRequirement(
                name="no_crc", optional=True, default=False,
                description="Skip reading the whole image (its data and CRC32 checks are then not checked)",
            ),
        ]

    def _boot_facts(self) -> BootFacts:
        facts = BootFacts()
        dump = self.config.get("boot_dump", None)
        if dump:
            self._progress_callback(0, "Reading the boot kernel's facts from its dump")
            facts = read_boot_dump(self.context, dump, self._progress_callback)
        folder = self.config.get("boot_facts", None)
        if folder:
            try:
                copied, notes = read_boot_facts(folder)
            except BootFactsError as exc:
                raise Refusal(f"--boot-facts {folder}: {exc}") from None
            for note in notes:
                vollog.info(note)
            facts = facts.merge(copied)
        if not dump and not folder:
            vollog.warning("No boot environment given (--boot-dump or --boot-facts): only the image's own "
                           "checks can be made")
        return facts

    def _stream(self, image):
        if self.config.get("no_crc", False):
            return None
        crc = image.compute_crc32(self._progress_callback)
        damage = tuple(f"{d.where}: {d.message}" for d in image.damage)
        return resume_checks.StreamResult(crc, damage)

    def _generator(self, image, boot: BootFacts):
        side = resume_checks.ImageSide.of(image)
        checks = resume_checks.replay(side, boot, self._stream(image))
        verdict = resume_checks.verdict(checks)
        if verdict.result == resume_checks.FAIL:
            vollog.warning(verdict.message)
        for check in (*checks, verdict):
            yield 0, (check.name, check.result, check.message, check.image, check.boot, check.source)

    def run(self):
        image = open_configured(self.context, self.config)
        boot = self._boot_facts()
        return renderers.TreeGrid(
            [("Check", str), ("Result", str), ("Message", str), ("Image", str), ("Boot", str), ("Source", str)],
            self._generator(image, boot),
        )

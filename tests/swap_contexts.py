"""Several hibernation images read one after the other in ONE process, each in a context of
its own (as volshell or a library user does), and print as JSON, per image: its layers, its
swap slot layer and the swap entries that layer met, and what each page of the synthetic
processes (samples/synth_swap.py SWAP_TASKS) reads as through the stock process layers.

    python -m tests.swap_contexts SYMBOL_DIR IMAGE...

Run it in a subprocess with its own XDG_CACHE_HOME (see tests/plugin_rows.py)."""

import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv) -> int:
    symbol_dir, images = argv[0], argv[1:]
    import volatility3.plugins
    import volatility3.symbols
    from volatility3 import framework
    from volatility3.framework import automagic, contexts, exceptions, interfaces, plugins

    from samples import synth_swap

    volatility3.plugins.__path__.insert(0, str(REPO / "plugins"))
    volatility3.symbols.__path__[:0] = [str(REPO / "symbols"), symbol_dir]
    framework.import_files(volatility3.plugins, True)
    pslist = framework.list_plugins()["linux.pslist.PsList"]
    from volatility3.plugins.swsusp.swap.swp_entry import EntryKind
    from volatility3.plugins.swsusp.vol.swap_slot_layer import SwapSlotLayer

    class Discard(interfaces.plugins.FileHandlerInterface):
        def close(self):
            pass

    wanted = {}
    for pid, va, _kind in synth_swap.process_pages():
        wanted.setdefault(pid, []).append(va)
    out = []
    for image in images:
        ctx = contexts.Context()
        ctx.config["automagic.LayerStacker.single_location"] = Path(image).resolve().as_uri()
        plugins.construct_plugin(ctx, automagic.choose_automagic(automagic.available(ctx), pslist), pslist, "plugins",
                                 None, Discard)
        kernel = ctx.config["plugins.PsList.kernel"]
        pages = {}
        for task in pslist.list_tasks(ctx, kernel):
            if int(task.pid) not in wanted:
                continue
            layer = ctx.layers[task.add_process_layer()]
            for va in wanted[int(task.pid)]:
                try:
                    pages[f"{int(task.pid)}:{va:#x}"] = hashlib.sha256(layer.read(va, 4096)).hexdigest()
                except exceptions.InvalidAddressException:
                    pages[f"{int(task.pid)}:{va:#x}"] = None
        layers = {name: type(ctx.layers[name]).__name__ for name in ctx.layers}
        slots = [ctx.layers[name] for name in ctx.layers if isinstance(ctx.layers[name], SwapSlotLayer)]
        met = {kind: slots[0].entries.count(kind) for kind in (EntryKind.OURS, EntryKind.ELSEWHERE, EntryKind.BEYOND,
                                                              EntryKind.ZSWAP, EntryKind.SPECIAL)} if slots else {}
        out.append({"layers": layers, "slot_bases": [s.config["base_layer"] for s in slots], "met": met,
                    "pages": pages})
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run several stock plugins on one input in one process, sharing the kernel module the
first one stacked (the ISF is loaded once; the types it resolved are dropped before each
plugin, as in a run of its own), and print their rows as JSON.

    python -m tests.plugin_rows INPUT SYMBOL_DIR linux.pslist.PsList linux.psaux.PsAux ...

Run it in a subprocess with its own XDG_CACHE_HOME: Volatility's caches (identifier cache,
validated-ISF hashes, the per-user ISF store) belong to that folder, never the user's."""

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv) -> int:
    image, symbol_dir, names = argv[0], argv[1], argv[2:]
    import volatility3.plugins
    import volatility3.symbols
    from volatility3 import framework
    from volatility3.framework import automagic, contexts, interfaces, plugins

    volatility3.plugins.__path__.insert(0, str(REPO / "plugins"))
    volatility3.symbols.__path__[:0] = [str(REPO / "symbols"), symbol_dir]
    framework.import_files(volatility3.plugins, True)
    available = framework.list_plugins()

    class Discard(interfaces.plugins.FileHandlerInterface):
        def close(self):
            pass

    ctx = contexts.Context()
    ctx.config["automagic.LayerStacker.single_location"] = Path(image).resolve().as_uri()
    magics = automagic.available(ctx)
    out, kernel = {}, None
    for name in names:
        plugin = available[name]
        if kernel is not None:
            ctx.config[f"plugins.{plugin.__name__}.kernel"] = kernel  # the module the first plugin stacked
            table_name = ctx.modules[kernel].symbol_table_name
            table = ctx.symbol_space[table_name]  # as a fresh run: no type resolved by an earlier plugin
            ctx.symbol_space.remove(table_name)
            table.clear_symbol_cache()
            ctx.symbol_space.append(table)
        instance = plugins.construct_plugin(ctx, automagic.choose_automagic(magics, plugin), plugin, "plugins",
                                            None, Discard)
        kernel = kernel or ctx.config.get(f"plugins.{plugin.__name__}.kernel")
        rows = []

        def visit(node, acc):
            acc.append([node.path_depth] + [None if isinstance(v, interfaces.renderers.BaseAbsentValue) else str(v)
                                            for v in node.values])
            return acc

        instance.run().populate(visit, rows)
        out[name] = rows
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What `vol` prints when a run cannot go on: the cause alone, in one line, exit status 1 --
never Volatility's "faulty layer ... file a bug" or "memory smear" causes, never a traceback.
(The refusals of each bad input, wrong -e option and typo: samples/bad via test_bad_corpus.py.)"""

from samples import bad
from samples.swsusp_gen import UNC_PAGES

VOLATILITY_ADVICE = ("faulty layer", "file a bug", "memory smear", "Unable to validate", "unexpected situation")


def _only_line(result) -> str:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for words in VOLATILITY_ADVICE:
        assert words not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def _block_of_pfn(facts, pfn: int) -> int:
    """The compressed block holding PFN's data (generator's order: stream page 0 the info page,
    then the PFN-list pages, then the data pages in PFN-list order; UNC_PAGES per block)."""
    stream_page = 1 + facts.meta_pages + facts.data_pfns.index(pfn)
    return (stream_page - 1) // UNC_PAGES


def _task_block_damaged(made, tmp_path):
    """quickstart-lzo with the compressed block holding the second task after init_task
    garbled (its data, not its length): (machine, facts, block, its file offset, path)."""
    machine, facts, path = made("quickstart-lzo")
    block = _block_of_pfn(facts, (machine.tasks[2][2] - machine.page_offset) >> 12)
    start = bad.block_of_compressed(facts, block)
    data = bytearray(open(path, "rb").read())
    data[start + 8 : start + 8 + 64] = bytes(64)
    damaged = tmp_path / "task-damaged.img"
    damaged.write_bytes(data)
    return machine, facts, block, start, damaged


def test_stock_plugin_stopped_by_a_damaged_page_says_only_why(made, tmp_path, vol):
    """linux.pslist walks the task list into that task_struct: the tasks before it are
    listed, then the one line naming the page, the block and its file offset."""
    machine, _facts, block, start, damaged = _task_block_damaged(made, tmp_path)
    result = vol("-f", str(damaged), "linux.pslist")
    assert result.returncode == 1
    line = _only_line(result)
    assert line.startswith("task-damaged.img: PFN ") and "is in the hibernation image but damaged" in line
    assert f"compressed block #{block}" in line and f"file offset {start:#x}" in line
    assert "the plugin cannot go on without this page" in line
    before, stopped = machine.tasks[1], machine.tasks[2]
    assert f"\t{before[0]}\t" in result.stdout and before[1][:15] in result.stdout
    assert stopped[1][:15] not in result.stdout


def test_the_same_damage_is_no_refusal_where_a_plugin_can_go_on(made, tmp_path, vol):
    """layerwriter reads padded: the block's 32 pages are zeros, every other page is the
    machine's, exit 0."""
    machine, facts, block, _start, damaged = _task_block_damaged(made, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    result = vol("-o", str(out), "-f", str(damaged), "layerwriter")
    assert result.returncode == 0, result.stderr[-3000:]
    (raw,) = out.iterdir()
    written = raw.read_bytes()
    lost = facts.data_pfns[block * UNC_PAGES - facts.meta_pages:][:UNC_PAGES]  # the block's 32 pages
    assert (machine.tasks[2][2] - machine.page_offset) >> 12 in lost
    for pfn, page in machine.pages.items():
        assert written[pfn * 4096 : (pfn + 1) * 4096] == (bytes(4096) if pfn in lost else page), hex(pfn)


def test_swaparea_on_a_ram_dump_is_a_refusal(made, tmp_path, vol):
    """A RAM dump has no swap area to account for: one line and exit 1, not an error log and 0."""
    from samples import resume_scenarios

    machine, _facts, _path = made("quickstart-lzo")
    raw = tmp_path / "quickstart.raw"
    resume_scenarios.write_raw(str(raw), machine.ram_pfns, machine.pages)
    result = vol("-f", str(raw), "linux.swsusp_swaparea")
    assert result.returncode == 1
    assert _only_line(result) == ("linux.swsusp_swaparea needs a hibernation image as input "
                                  "(a swap partition, disk or file)")


def test_swsusp_info_reads_the_placement_options_every_plugin_reads(made, vol):
    """-e swsusp.partition / resume_offset place the image for linux.swsusp_info too (its own
    --partition / --resume-offset win), and a wrong one is refused naming the option."""
    _machine, facts, path = made("gpt")
    result = vol("-r", "json", "-e", "swsusp.partition=2", "-f", path, "linux.swsusp_info", "--no-crc")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'"Offset": {facts.partition_offset}' in result.stdout
    wrong = vol("-e", "swsusp.partition=1", "-f", path, "linux.swsusp_info")
    assert wrong.returncode == 1
    line = _only_line(wrong)
    assert line.startswith("gpt.img (-e swsusp.partition=1): not a hibernation image: GPT partition 1")
    own = vol("-e", "swsusp.partition=1", "-f", path, "linux.swsusp_info", "--partition", "2", "--no-crc")
    assert own.returncode == 0, own.stderr[-3000:]

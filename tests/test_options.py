"""The -e swsusp.* options: the forms users type are read, anything else is named once (the
value then counts as not given), and nothing is a traceback."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from volatility3.framework import contexts

from tests import realsamples
from volatility3.plugins.swsusp.vol import options


def context(**values):
    ctx = contexts.Context()
    for name, value in values.items():
        ctx.config[f"swsusp.{name}"] = value
    return ctx


@pytest.mark.parametrize("raw,expected", [
    (False, False), (True, True), (0, False), (1, True), ("no", False), ("NO", False), ("off", False),
    ("false", False), ("0", False), ("yes", True), ("on", True), ("true", True), ("1", True),
])
def test_yes_no_forms(raw, expected):
    ctx = context(swap=raw, safe_tables=raw)
    assert options.flag(ctx, "swap") is expected and options.flag(ctx, "safe_tables") is expected
    assert options.problems(ctx) == []


@pytest.mark.parametrize("raw,expected", [(34816, 34816), ("34816", 34816), ("0x8800", 0x8800), (" 7 ", 7)])
def test_numbers(raw, expected):
    assert options.integer(context(resume_offset=raw), "resume_offset") == expected


def test_defaults_when_not_given():
    ctx = context()
    assert options.flag(ctx, "swap") is True and options.flag(ctx, "btf") is True
    assert options.flag(ctx, "safe_tables") is False and options.integer(ctx, "resume_offset") is None
    assert options.get(ctx, "btf_timeout") == 900.0


@pytest.mark.parametrize("name,raw,words", [
    ("swap", "maybe", "'maybe' is not true or false"),
    ("safe_tables", 2, "2 is not true or false"),
    ("resume_offset", "abc", "'abc' is not a whole number"),
    ("resume_offset", -1, "-1 is negative"),
    ("partition", True, "True is not a number"),
    ("btf_timeout", "soon", "'soon' is not a number"),
    ("btf_timeout", "nan", "'nan' is not a finite number"),
    ("btf_timeout", "inf", "'inf' is not a finite number"),
])
def test_an_unusable_value_is_named_and_counts_as_not_given(name, raw, words):
    """(for library callers: `vol` refuses the run, below)"""
    ctx = context(**{name: raw})
    (line,) = options.problems(ctx)
    assert line.startswith(f"-e swsusp.{name}: ") and words in line
    assert options.get(ctx, name) == options.OPTIONS[name].default


@pytest.mark.parametrize("key,words", [
    ("swsusp.swapp", "-e swsusp.swapp: no such option; did you mean swsusp.swap?"),
    ("swsusp.resume-offset", "-e swsusp.resume-offset: no such option; did you mean swsusp.resume_offset?"),
    ("swsusp.swap.type", "-e swsusp.swap.type: no such option; did you mean swsusp.swap_type?"),
    ("swsusp.frobnicate", "-e swsusp.frobnicate: no such option; (known: "),
    ("SWSUSP.swap", "-e SWSUSP.swap: not an option: options are -e swsusp.NAME=VALUE; did you mean swsusp.swap?"),
    ("swsup.safe_tables", "-e swsup.safe_tables: not an option: options are -e swsusp.NAME=VALUE; did you mean "
                          "swsusp.safe_tables?"),
    ("swsusp_partition", "-e swsusp_partition: not an option: options are -e swsusp.NAME=VALUE; did you mean "
                         "swsusp.partition?"),
    ("swsusp", "-e swsusp: give an option's name, -e swsusp.NAME=VALUE"),
])
def test_an_unknown_name_is_named_with_the_known_ones(key, words):
    ctx = contexts.Context()
    ctx.config[key] = 1
    (line,) = options.problems(ctx)
    assert line.startswith(words) and "(known: btf, btf_timeout, partition, resume_offset, safe_tables, swap" in line


@pytest.mark.parametrize("key", ["plugins.PsList.pid", "automagic.LayerStacker.single_location", "SwsuspLayer.x",
                                 "swap.x", "suspend.x"])
def test_other_config_paths_are_not_ours(key):
    ctx = contexts.Context()
    ctx.config[key] = 1
    assert options.problems(ctx) == []


def test_vol_refuses_bad_options_one_line_each(vol):
    """A typo runs nothing (it would run the analysis with settings nobody chose): every
    problem in one line, exit 1, before the input is even read."""
    sample = realsamples.REPO / "samples" / "quickstart-lzo.img"
    result = vol("-e", "swsusp.swapp=false", "-e", 'swsusp.safe_tables="maybe"', "-f", str(sample),
                 "linux.swsusp_info", "--no-crc")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert sorted(line.split(":")[0] for line in lines) == ["-e swsusp.safe_tables", "-e swsusp.swapp"], result.stderr
    assert any("swsusp.swapp: no such option; did you mean swsusp.swap?" in line for line in lines)
    assert any("swsusp.safe_tables: 'maybe' is not true or false" in line for line in lines)
    assert "Section" not in result.stdout


def test_readme_lists_every_option():
    """The README's table of -e options is the declaration's (name, default, help)."""
    text = (realsamples.REPO / "README.md").read_text()
    table = text.split("<!-- options table")[1].split("\n\n")[0]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| `swsusp.")]
    listed = {cells[0].strip(" `")[len("swsusp."):]: [c.strip() for c in cells[1:]] for cells in rows}
    assert set(listed) == set(options.OPTIONS)
    kinds = {bool: "true/false", int: "whole number", float: "number", str: "file name"}
    for name, option in options.OPTIONS.items():
        kind, default, what = listed[name]
        assert kind == kinds[option.kind] and what == option.help, name
        shown = "not given" if option.default is None else str(option.default).lower()
        assert default == shown.removesuffix(".0"), name


# what Volatility's configuration stores from an -e JSON value (it refuses floats and objects)
_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.lists(st.integers(), max_size=3))
_names = st.one_of(st.sampled_from(sorted(options.OPTIONS)), st.from_regex(r"[A-Za-z_\-][A-Za-z0-9_\-]{0,12}",
                                                                           fullmatch=True))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_names, _values, max_size=4))
def test_any_option_names_and_values_give_lines_never_an_exception(given_options):
    """Whatever `-e swsusp.NAME=VALUE` Volatility hands over: one line per problem, and the
    readers return a usable value (the default for an unusable one), never an exception."""
    ctx = context(**given_options)
    lines = options.problems(ctx)
    named = {line.split(":")[0] for line in lines}
    for name, raw in given_options.items():
        if name in options.OPTIONS and raw is not None:
            try:
                options.OPTIONS[name].parse(raw)
                assert f"-e swsusp.{name}" not in named
            except ValueError:
                assert f"-e swsusp.{name}" in named
            value = options.get(ctx, name)
            assert value is None or isinstance(value, options.OPTIONS[name].kind)
        elif name not in options.OPTIONS:
            assert f"-e swsusp.{name}" in named

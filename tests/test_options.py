"""The -e swsusp.* options: the forms users type are read, anything else is named once (the
value then counts as not given), and nothing is a traceback."""

import pytest
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
])
def test_an_unusable_value_is_named_and_counts_as_not_given(name, raw, words):
    ctx = context(**{name: raw})
    (line,) = options.problems(ctx)
    assert line.startswith(f"-e swsusp.{name}: ") and words in line and "using its default" in line
    assert options.get(ctx, name) == options.OPTIONS[name].default


def test_an_unknown_name_is_named():
    (line,) = options.problems(context(swapp=False))
    assert line.startswith("-e swsusp.swapp: no such option") and "swap" in line


def test_vol_names_bad_options_once_and_runs(vol):
    sample = realsamples.REPO / "samples" / "quickstart-lzo.img"
    result = vol("-e", "swsusp.swapp=false", "-e", 'swsusp.safe_tables="maybe"', "-f", str(sample),
                 "linux.swsusp_info", "--no-crc")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "-e swsusp." in line]
    assert len(errors) == 2, result.stderr
    assert "swsusp.swapp: no such option" in errors[0] or "swsusp.swapp: no such option" in errors[1]
    assert any("swsusp.safe_tables: 'maybe' is not true or false" in line for line in errors)


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

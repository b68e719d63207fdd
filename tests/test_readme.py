"""The README's promises: CI runs its test command, its quick-start sample exists, and the
tutorial's outputs on the bundled pair are what the plugin prints today."""

import json
import re

from tests import realsamples

README = (realsamples.REPO / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^(python3 -m venv .*pytest.*)$", README, re.M)
    assert len(commands) == 1
    assert commands[0] in (realsamples.REPO / ".ci" / "run").read_text()


def test_quick_start_sample_exists():
    (main_job,) = re.findall(r"^python3 -m venv .*vol -f (\S+) linux\.swsusp_info$", README, re.M)
    assert (realsamples.REPO / main_job).is_file()


def test_tutorial_outputs_are_current(vol, tmp_path):
    seed = realsamples.REPO / "samples"
    result = vol("-r", "json", "-o", str(tmp_path), "-f", str(seed / "seed-image.img"), "linux.swsusp_safepgt",
                 "--resume-dump", str(seed / "seed-resume.elf"), "--rebuild", "--copied", "10")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    text = " ".join(" ".join(str(v) for v in r.values()) for r in rows)
    claims = [
        "broken from copy #3 until copy #27: table frame 0x2d01000 overwritten at copy #3",
        "root 0x100000; frames 0x100000, 0x101000, 0x102000, 0x103000, 0x104000",
        "65536 direct-map pages translate identically",
        "0xffff81000a000000 -> 0xd2d48544e5000",
    ]
    for claim in claims:
        assert claim in text, claim
        assert claim.split(": ")[0] in README
    moved = sorted(hex(r["Physical"]) for r in rows if r.get("Finding") == "moved")
    assert moved == ["0x6000000", "0xa000000"]


def test_refusal_example_is_what_vol_prints(vol, tmp_path):
    """The Troubleshooting example: the command, its stdout and stderr lines, its exit status."""
    from samples import bad

    block = README.split("<!-- refusal example")[1].split("```")[1]
    command, *printed, status_command, status = block.strip().splitlines()
    assert command.startswith("$ vol -f samples/bad/") and status_command == "$ echo $?"
    image, *args = command.split()[3:]
    name = image.removeprefix("samples/bad/").removesuffix(".img")
    path = bad.build(str(tmp_path), names=[name])[name]
    result = vol("-f", path, *args)
    assert result.returncode == int(status)
    assert result.stdout.splitlines() + result.stderr.splitlines() == printed

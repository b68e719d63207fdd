"""linux.swsusp_safepgt against designed resume scenarios: an image and a RAM dump of the boot
kernel during its resume, built so the generator knows every slot's finding and every hazard
(samples/resume_scenarios.py; the seed scenario is the 2005 hang)."""

import json

import pytest

from samples import swsusp_gen


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("scenarios")


def run(vol, scenario, tmp_path, *extra):
    result = vol("-r", "json", "-o", str(tmp_path), "-f", scenario.image_path, "linux.swsusp_safepgt",
                 "--resume-dump", scenario.resume_path, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(swsusp_gen.SCENARIOS))
def test_findings_and_hazards_are_exactly_the_designed_ones(scenario_dir, vol, tmp_path, name):
    scenario = swsusp_gen.make_scenario(name, str(scenario_dir))
    rows = run(vol, scenario, tmp_path, "--rebuild")
    slots = [r for r in rows if r["Level"] in ("PUD", "PMD") and r["Finding"] != "-"]
    found = {(r["Level"], r["Physical"]): (r["Kind"], r["Resume kind"], r["Finding"]) for r in slots}
    expected = {(e["level"], e["pa_start"]): (e["image_kind"], e["resume_kind"], e["finding"])
                for e in scenario.expected}
    assert found == expected
    broken = {(r["Level"], r["Physical"]) for r in slots if r["Restore hazard"].startswith("broken")}
    assert broken == {(h["level"], h["pa_start"]) for h in scenario.hazards}
    assert all(r["Safe tables"] == "maps correctly" for r in slots if r["Kind"] not in ("not present", "-"))
    summary = {r["Kind"]: r["Finding"] for r in rows if r["Level"] == "summary"}
    assert summary["rebuilt tables verified"].endswith("translate identically")


def test_seed_hazard_names_the_overwritten_pmd_and_the_late_table(scenario_dir, vol, tmp_path):
    """The 2005 story: the PMD entry's image-time PTE table is restored only after the PMD
    table itself is overwritten; the row says which copy overwrites what, and when the table
    arrives."""
    scenario = swsusp_gen.make_scenario("seed", str(scenario_dir))
    (hazard,) = scenario.hazards
    rows = run(vol, scenario, tmp_path)
    row = next(r for r in rows if r["Level"] == hazard["level"] and r["Physical"] == hazard["pa_start"])
    assert row["Finding"] == "moved"
    text = row["Restore hazard"]
    assert f"table frame {hazard['table_pa']:#x} overwritten at copy #" in text
    assert f"pointing to frame {hazard['image_target']:#x}, whose suspend-time content arrives only at copy #" in text

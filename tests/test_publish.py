"""The GitHub Pages workflow (.github/workflows/pages.yml): it parses, installs as the README says,
builds with --strict and deploys site/ with GitHub's own actions and the permissions they need."""

from __future__ import annotations

import re

import pytest

from sitetools import ROOT

import yaml  # noqa: E402 (requirements-dev.txt)


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8"))


def readme_setup_command() -> str:
    """The README's first command: install everything, then build."""
    return re.search(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL).group(1)


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_runs_on_pushes_to_main_with_pages_permissions(workflow):
    triggers = workflow[True] if True in workflow else workflow["on"]   # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"]["pages"] == "write"
    assert workflow["permissions"]["id-token"] == "write"
    assert workflow["permissions"].get("contents") == "read"
    assert workflow["concurrency"]["group"] == "pages"
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_installs_exactly_as_the_readme_says(workflow):
    build = steps(workflow, "build")
    assert workflow["jobs"]["build"]["runs-on"] == "ubuntu-latest"
    python = next(s for s in build if s.get("uses", "").startswith("actions/setup-python@"))
    node = next(s for s in build if s.get("uses", "").startswith("actions/setup-node@"))
    assert str(python["with"]["python-version"]) == "3.11"
    assert str(node["with"]["node-version"]) == "20"
    commands = [s["run"].strip() for s in build if "run" in s]
    readme = readme_setup_command()
    install, _, last = readme.rpartition(" && ")
    assert last == ".venv/bin/python build.py"
    # The runner is not root: the README says to put sudo before apt-get then.
    assert commands == [re.sub(r"\bapt-get\b", "sudo apt-get", install), ".venv/bin/python build.py --strict"]


def test_deploys_site_with_the_official_actions_in_order(workflow):
    used = [s.get("uses", "run: " + s.get("run", "")).split("@")[0] for s in steps(workflow, "build")]
    assert used == ["actions/checkout", "actions/setup-python", "actions/setup-node",
                    "run: " + steps(workflow, "build")[3]["run"], "run: .venv/bin/python build.py --strict",
                    "actions/configure-pages", "actions/upload-pages-artifact"]
    upload = steps(workflow, "build")[-1]
    assert upload["with"]["path"] == "site"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    assert deploy["environment"]["url"] == "${{ steps.%s.outputs.page_url }}" % deploy["steps"][0]["id"]


def test_readme_says_how_to_switch_it_on():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Publish on GitHub Pages", 1)[1].split("\n## ", 1)[0]
    assert "Settings → Pages" in section and "GitHub Actions" in section
    assert ".github/workflows/pages.yml" in section

"""Every python code block of the docs and the README runs; the site builds without warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PAGES = ["README.md", "docs/architecture.md", "docs/installation.md", "docs/tutorials/custom-solver.md",
         "docs/tutorials/property-testing.md", "docs/tutorials/register.md"]
NOT_RUN = {"docs/checkpoints.md"}  # its code needs the public checkpoint files (gigabytes, not here)


def test_every_page_with_python_is_listed():
    found = {str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
             if BLOCK.search(p.read_text())}
    assert found == set(PAGES) | NOT_RUN


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run(page):
    text = (ROOT / page).read_text()
    blocks = BLOCK.findall(text)
    assert blocks, f"{page} has no python blocks"
    namespace: dict = {"__name__": f"doc_{Path(page).stem}"}
    for block in blocks:  # blocks of a page build on each other
        exec(compile(block, page, "exec"), namespace)


def test_cli_reference_lists_every_command():
    from splitdiff.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    text = (ROOT / "docs" / "cli.md").read_text()
    for name in commands:
        assert f"`splitdiff {name}" in text, name


def test_the_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    mkdocs = shutil.which("mkdocs")
    cmd = [mkdocs] if mkdocs else [sys.executable, "-m", "mkdocs"]
    result = subprocess.run([*cmd, "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "api" / "index.html").is_file()

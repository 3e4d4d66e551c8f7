"""Every python code block of the docs and the README runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", ["docs/architecture.md", "README.md"])
def test_code_blocks_run(page):
    text = (ROOT / page).read_text()
    blocks = BLOCK.findall(text)
    assert blocks, f"{page} has no python blocks"
    namespace: dict = {"__name__": f"doc_{Path(page).stem}"}
    for block in blocks:  # blocks of a page build on each other
        exec(compile(block, page, "exec"), namespace)

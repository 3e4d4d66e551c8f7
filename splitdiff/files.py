"""Writing files safely: atomically, never over an existing file unless asked, never through a link.

Every file splitdiff writes goes through :func:`atomic_write`: the content is written to a new,
exclusively created temporary file in the target's folder (``O_EXCL``, so a planted file or
symlink is never followed or consumed) and then renamed over the target, so a reader sees
either the old file or the whole new one. :func:`check_output` is the policy of the command
line: an existing file is replaced only with ``--force``, a target that is not a regular file
(a device node, a folder, a symlink) never, an input file never.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterable


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary file beside ``path``, then rename it to ``path``.

    The temporary file is created with ``O_EXCL`` (``tempfile.NamedTemporaryFile``) in the
    target's folder, which must exist; on any error it is removed and ``path`` is untouched.
    """
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    handle.close()
    tmp = Path(handle.name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # a new file's usual mode (the temporary file is 0600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda p: p.write_text(text))


def check_output(path: str | Path, force: bool = False, inputs: Iterable[str | Path] = (),
                 what: str = "output") -> Path:
    """Check, before any work, that ``path`` may be written; returns it.

    Raises ``ValueError`` when the folder is missing, not a folder or not writable; when
    ``path`` exists and is not a regular file (a folder, a device node, a symlink: never
    replaced); when it is one of ``inputs``; or when it exists and ``force`` is false.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {what} {path}: folder {folder} does not exist or is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {what} {path}: folder {folder} is not writable")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path
    for source in inputs:
        if source is not None and Path(source).exists() and os.path.samefile(source, path):
            raise ValueError(f"{what} {path} is also an input file; choose another path")
    if not stat.S_ISREG(info.st_mode):
        kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode) else \
            "not a regular file"
        raise ValueError(f"{what} {path} exists and is {kind}; splitdiff only replaces regular files")
    if not force:
        raise ValueError(f"{what} {path} exists; pass --force to overwrite it")
    return path

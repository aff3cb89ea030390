"""Atomic file writing (a product is either complete or absent, never half-written) and safe
reading of torch files (no code can run while loading)."""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import CheckpointError, ConfigError

__all__ = ["atomic_path", "ensure_dir", "safe_torch_load"]


def ensure_dir(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (and its parents) unless it exists; a file in the way is a
    :class:`~workbench.errors.ConfigError` naming it, not a ``FileExistsError`` traceback.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"; _ = f.write_text("x")
    >>> ensure_dir(f / "out")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: .../notes.txt: is a file (expected a folder for the output, or a path that does not exist yet)
    """
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise ConfigError(
                    "is a file",
                    path=p,
                    expected="a folder for the output, or a path that does not exist yet",
                )
            break
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_torch_load(
    path: str | os.PathLike[str], *, expected: str, map_location: Any = "cpu"
) -> Any:
    """``torch.load(path, weights_only=True)`` with every failure a :class:`CheckpointError`
    naming the file.

    ``weights_only=True`` is passed explicitly, so no code in the file can run, whatever the
    torch version's default and even with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` set.

    Examples
    --------
    >>> import tempfile, torch
    >>> p = tempfile.mkdtemp() + "/x.pt"
    >>> torch.save({"w": torch.ones(2)}, p)
    >>> safe_torch_load(p, expected="a test file")["w"].tolist()
    [1.0, 1.0]
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise CheckpointError("does not exist", path=path, expected=expected)
    if path.is_dir():
        raise CheckpointError("is a directory", path=path, expected=expected)
    with open(path, "rb") as f:
        head = f.read(2)
    # torch.save writes zip archives (torch ≥ 1.6); older files and plain pickles start with
    # the pickle protocol marker 0x80; anything else is not a torch file at all
    if not zipfile.is_zipfile(path) and not head.startswith(b"\x80"):
        raise CheckpointError(
            "cannot be read; it is truncated or not a torch file (neither a "
            "zip archive nor a pickle)",
            path=path,
            expected=expected,
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        first = next(
            (ln for ln in lines if "Unsupported global" in ln or "error:" in ln),
            lines[0] if lines else "",
        )
        raise CheckpointError(
            "was refused by safe loading (weights_only=True): it holds Python objects other "
            f"than tensors and plain data, which could run code, so it was not loaded ({first})",
            path=path,
            expected=expected,
        ) from None
    except Exception as exc:  # truncated zip, random bytes, empty file, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"cannot be read; it is truncated or not a torch file ({first})",
            path=path,
            expected=expected,
        ) from None


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Works for files and for directories (e.g. Zarr stores): whatever the body writes at the
    yielded path replaces ``target`` in one rename. On any exception the temporary path is
    removed and ``target`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "zones.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    target = Path(target)
    ensure_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + "".join(target.suffixes[-1:]), dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # the writer creates it (file or directory)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: the writer produced nothing for {target}")
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise

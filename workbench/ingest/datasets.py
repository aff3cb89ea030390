"""``workbench datasets``: the benchmark datasets, downloaded, verified and unpacked.

:func:`list_datasets` names what the workbench can fetch; :func:`fetch` downloads one into a
folder the workbench's readers open as it is:

============  ===============================================  ==================================
name          archive                                          verified by
============  ===============================================  ==================================
``caffe``     CaFFe, PANGAEA doi:10.1594/PANGAEA.940950,       the size the server announces and
              ``data_raw.zip`` (sar_images/, zones/, fronts/,  the CRC-32 of every zip member
              bounding_boxes/ with train/ and test/)           (PANGAEA publishes no checksum)
``ssl4sar``   SSL4SAR unlabelled Sentinel-1/-2 set, Zenodo     size and MD5 from the Zenodo
              record 14748506 (its files, as Zenodo lists)     record, and the zip CRCs
============  ===============================================  ==================================

No public archive of a Svalbard calving-front dataset is registered yet; the Svalbard data
the workbench tests with come from ``../shared/data``.

Downloads go to ``DEST/.downloads/NAME.part`` and are **resumed** with an HTTP ``Range``
request after an interruption; a complete file is checked (size, checksum, archive
integrity) before anything is unpacked, and a file that fails is deleted and refused.
Unpacking is **atomic**: into a temporary folder beside ``DEST/NAME``, renamed once
complete, so ``DEST/NAME`` is either the whole dataset or absent. The hosts are
``$WORKBENCH_PANGAEA_URL`` (default ``https://download.pangaea.de``) and
``$WORKBENCH_ZENODO_URL`` (default ``https://zenodo.org``), e.g. for a mirror. Without a
network, download the archive by hand and pass it with ``archive=`` (``--archive``).

Examples
--------
>>> [d.name for d in list_datasets()]
['caffe', 'ssl4sar']
>>> get_dataset("caffe").doi
'10.1594/PANGAEA.940950'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench._io import atomic_path, ensure_dir
from workbench.errors import ConfigError, DataError, FileFormatError

__all__ = ["RemoteFile", "DatasetSpec", "list_datasets", "get_dataset", "fetch", "download"]

CHUNK = 1 << 20
TIMEOUT_S = 60


def _pangaea() -> str:
    return os.environ.get("WORKBENCH_PANGAEA_URL", "https://download.pangaea.de").rstrip("/")


def _zenodo() -> str:
    return os.environ.get("WORKBENCH_ZENODO_URL", "https://zenodo.org").rstrip("/")


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: where from, its name, and what it must be (when published)."""

    url: str
    name: str
    size: int | None = None
    md5: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its source, how to list its files, and its layout check."""

    name: str
    title: str
    doi: str
    licence: str
    citation: str
    layout: str
    files: Callable[[], list[RemoteFile]]
    check: Callable[[Path], str]
    """Checks the unpacked folder (raises DataError) and returns a one-line summary."""


def _caffe_files() -> list[RemoteFile]:
    return [RemoteFile(f"{_pangaea()}/dataset/940950/files/data_raw.zip", "data_raw.zip")]


def _zenodo_files(record: str) -> Callable[[], list[RemoteFile]]:
    def files() -> list[RemoteFile]:
        url = f"{_zenodo()}/api/records/{record}"
        meta = _get_json(url)
        out = []
        for f in meta.get("files", []):
            checksum = str(f.get("checksum", ""))
            md5 = checksum.split(":", 1)[1] if checksum.startswith("md5:") else None
            link = f.get("links", {}).get("self") or f"{url}/files/{f['key']}/content"
            out.append(RemoteFile(link, f["key"], int(f["size"]) if "size" in f else None, md5))
        if not out:
            raise DataError("lists no files", path=url, expected="a Zenodo record with files")
        return out

    return files


def _check_caffe(root: Path) -> str:
    from workbench.data.caffe import CaffeDataset

    missing = [d for d in ("sar_images", "zones", "fronts") if not (root / d).is_dir()]
    if missing:
        raise DataError(
            f"lacks {missing} after unpacking",
            path=root,
            expected="the CaFFe layout sar_images/, zones/, fronts/",
        )
    dataset = CaffeDataset(root)
    return f"{len(dataset)} CaFFe images of {len({m.glacier for m in dataset.metadata})} glaciers"


def _check_any(root: Path) -> str:
    files = [p for p in root.rglob("*") if p.is_file()]
    if not files:
        raise DataError("is empty after unpacking", path=root, expected="the archive's files")
    return f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB"


_REGISTRY: dict[str, DatasetSpec] = {
    "caffe": DatasetSpec(
        name="caffe",
        title="CaFFe: Calving Fronts and where to Find thEm (681 SAR images, 7 glaciers)",
        doi="10.1594/PANGAEA.940950",
        licence="CC-BY-4.0",
        citation="Gourmelon et al. 2022, Earth System Science Data 14, 4287-4313",
        layout="sar_images/, zones/, fronts/, bounding_boxes/ with train/ and test/ "
        "(workbench.data.caffe.CaffeDataset, workbench evaluate)",
        files=_caffe_files,
        check=_check_caffe,
    ),
    "ssl4sar": DatasetSpec(
        name="ssl4sar",
        title="SSL4SAR: unlabelled Sentinel-1 (9,563) and Sentinel-2 (14) images "
        "of Arctic glaciers",
        doi="10.5281/zenodo.14748506",
        licence="see the Zenodo record",
        citation="Gourmelon et al. 2025, IEEE TGRS (SSL4SAR)",
        layout="the record's archives, unpacked as they are",
        files=_zenodo_files("14748506"),
        check=_check_any,
    ),
}


def list_datasets() -> list[DatasetSpec]:
    """The registered datasets."""
    return list(_REGISTRY.values())


def get_dataset(name: str) -> DatasetSpec:
    """The dataset called ``name`` (ConfigError naming the choices otherwise)."""
    if name not in _REGISTRY:
        raise ConfigError(f"is {name!r}", variable="NAME", expected=f"one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]


# ------------------------------------------------------------------------------ transfer
def _session() -> Any:
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = "glacier-workbench (workbench datasets fetch)"
    return s


def _unreachable(url: str, err: Exception) -> DataError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return DataError(
        f"cannot be downloaded: the network or the archive is unavailable ({first[:200]})",
        path=url,
        expected="a reachable archive; offline, download it by hand and pass --archive FILE",
    )


def _get_json(url: str) -> dict[str, Any]:
    import requests

    try:
        r = _session().get(url, timeout=TIMEOUT_S)
        r.raise_for_status()
        return r.json()
    except (requests.RequestException, ValueError) as err:
        raise _unreachable(url, err) from None


def download(remote: RemoteFile, folder: Path, *, progress: bool = True) -> Path:
    """Download ``remote`` into ``folder``, resuming ``NAME.part`` if an earlier run was cut
    off; return the complete file (renamed from ``.part`` once its size is right).

    The size is the published one, else the server's ``Content-Length``. A server that ignores
    ``Range`` makes the download start again from the beginning.
    """
    import requests
    from tqdm.auto import tqdm

    folder = ensure_dir(folder)
    target, part = folder / remote.name, folder / f"{remote.name}.part"
    if target.is_file():
        return target
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with _session().get(remote.url, headers=headers, stream=True, timeout=TIMEOUT_S) as r:
            if r.status_code == 416:  # the part is already whole (or longer)
                total = remote.size or have
            else:
                r.raise_for_status()
                if have and r.status_code != 206:
                    have = 0  # no Range support: start again
                length = int(r.headers.get("Content-Length", 0)) or None
                total = remote.size or ((have + length) if length else None)
                mode = "ab" if have else "wb"
                with (
                    open(part, mode) as out,
                    tqdm(
                        total=total,
                        initial=have,
                        unit="B",
                        unit_scale=True,
                        disable=not progress,
                        desc=f"{remote.name}{' (resumed)' if have else ''}",
                        file=sys.stderr,
                    ) as bar,
                ):
                    for chunk in r.iter_content(CHUNK):
                        out.write(chunk)
                        bar.update(len(chunk))
    except requests.RequestException as err:
        raise _unreachable(remote.url, err) from None
    size = part.stat().st_size if part.is_file() else 0
    if total is not None and size != total:
        if size > total:
            part.unlink()
        raise DataError(
            f"has {size:,} bytes but {total:,} were announced",
            path=part,
            variable=remote.name,
            expected="a complete download; run the same command again to resume",
        )
    os.replace(part, target)
    return target


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, remote: RemoteFile | None) -> None:
    """Size and MD5 (when published) and the archive's own integrity, else the file is
    deleted and a FileFormatError says why."""

    def refuse(why: str) -> None:
        path.unlink(missing_ok=True)
        raise FileFormatError(
            f"{why}; the file was deleted",
            path=path,
            expected="the archive as published: download it again",
        )

    if remote is not None and remote.size is not None and path.stat().st_size != remote.size:
        refuse(f"has {path.stat().st_size:,} bytes, not the published {remote.size:,}")
    if remote is not None and remote.md5 is not None and _md5(path) != remote.md5:
        refuse(f"has MD5 {_md5(path)}, not the published {remote.md5}")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            refuse(f"is a damaged zip archive ({err})")
        if bad is not None:
            refuse(f"is a damaged zip archive: member {bad!r} fails its CRC-32 check")
    elif tarfile.is_tarfile(path):
        try:
            with tarfile.open(path) as t:
                for _ in t:
                    pass
        except (tarfile.TarError, OSError, EOFError) as err:
            refuse(f"is a damaged tar archive ({err})")
    elif path.suffix.lower() in (".zip", ".tar", ".gz", ".tgz"):
        refuse("is not a readable archive")


def _unpack(archive: Path, into: Path) -> None:
    """Unpack a zip/tar archive (or copy a plain file) into ``into``, refusing members that
    would land outside it."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if not (into / name).resolve().is_relative_to(into.resolve()):
                    raise FileFormatError(
                        f"holds a member outside its folder: {name!r}",
                        path=archive,
                        expected="a well-formed archive",
                    )
            z.extractall(into)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            t.extractall(into, filter="data")
    else:
        shutil.copy2(archive, into / archive.name)


def _strip_single_folder(root: Path) -> None:
    """``root/data_raw/*`` → ``root/*`` when the archive holds one top folder only."""
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        for child in list(inner.iterdir()):
            os.replace(child, root / child.name)
        inner.rmdir()


def fetch(
    name: str,
    dest: str | os.PathLike[str],
    *,
    archive: str | os.PathLike[str] | None = None,
    keep_archive: bool = False,
    progress: bool = True,
) -> tuple[Path, str]:
    """Download (or take ``archive``), verify and unpack dataset ``name`` into ``dest/name``.

    Returns the folder and a one-line summary of what is in it. An existing complete
    ``dest/name`` is kept (delete it to fetch again).
    """
    spec = get_dataset(name)
    dest = ensure_dir(dest)
    final = dest / spec.name
    if final.is_dir() and any(final.iterdir()):
        return final, f"already there: {spec.check(final)}"
    downloads = dest / ".downloads"
    if archive is not None:
        archive = Path(archive)
        if not archive.is_file():
            raise DataError(
                "does not exist",
                path=archive,
                variable="--archive",
                expected=f"the archive of {spec.name} downloaded by hand",
            )
        pairs: list[tuple[Path, RemoteFile | None]] = [(archive, None)]
    else:
        pairs = [(download(r, downloads, progress=progress), r) for r in spec.files()]
    for path, remote in pairs:
        verify(path, remote)
    with atomic_path(final) as tmp:
        tmp.mkdir()
        for path, _ in pairs:
            _unpack(path, tmp)
        _strip_single_folder(tmp)
        summary = spec.check(tmp)
    if not keep_archive and archive is None:
        shutil.rmtree(downloads, ignore_errors=True)
    return final, summary

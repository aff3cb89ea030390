"""``workbench datasets``: fetched from a local HTTP server (tornado's StaticFileHandler, which
answers Range requests, on 127.0.0.1) that serves small archives in the layout of PANGAEA and
Zenodo: a complete fetch unpacks into the readers' layout, an interrupted download resumes
with a Range request, a corrupted archive or a wrong checksum is refused and deleted, an
unreachable host is a clear error, and nothing is ever left half-unpacked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _stac_helpers import free_port
from PIL import Image

from workbench.cli import main
from workbench.data.caffe import CaffeDataset
from workbench.ingest.datasets import RemoteFile, download

STEMS = ["JAC_2015-01-01_S1_20_1_090", "COL_2016-05-03_S1_20_2_112"]
_SERVER = """
import sys, tornado.ioloop, tornado.log, tornado.web
tornado.log.enable_pretty_logging()
app = tornado.web.Application([(r"/(.*)", tornado.web.StaticFileHandler, {"path": sys.argv[1]})])
app.listen(int(sys.argv[2]), address="127.0.0.1")
tornado.ioloop.IOLoop.current().start()
"""


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def caffe_zip() -> bytes:
    """A two-image archive in the layout of CaFFe's data_raw.zip."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for stem in STEMS:
            zones = np.full((32, 32), 254, np.uint8)
            zones[:, :16] = 127
            front = np.zeros((32, 32), np.uint8)
            front[:, 16] = 255
            z.writestr(
                f"data_raw/sar_images/train/{stem}.png", _png(rng.integers(1, 255, (32, 32)))
            )
            z.writestr(f"data_raw/zones/train/{stem}_zones.png", _png(zones))
            z.writestr(f"data_raw/fronts/train/{stem}_front.png", _png(front))
    return buf.getvalue()


class Server:
    """tornado serving ``root`` on 127.0.0.1; its access log is kept to see 200 vs 206."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root.parent / f"server-{self.port}.log"

    def __enter__(self) -> Server:
        self.handle = open(self.log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-c", _SERVER, str(self.root), str(self.port)],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
            except urllib.error.HTTPError:
                return self  # 404 for "/" : it answers
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the local HTTP server did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.handle.close()

    def statuses(self, at_least: int = 1) -> list[str]:
        """HTTP statuses of the file requests (not the start-up probes of "/"); the server logs
        a request just after answering it, so wait a moment for ``at_least`` of them."""
        import re

        for _ in range(50):
            found = re.findall(r"\] (\d{3}) GET (\S+) \(", self.log.read_text())
            statuses = [status for status, path in found if path != "/"]
            if len(statuses) >= at_least:
                break
            time.sleep(0.1)
        return statuses


@pytest.fixture()
def served(tmp_path, monkeypatch):
    root = tmp_path / "www"
    archive = caffe_zip()
    (root / "dataset" / "940950" / "files").mkdir(parents=True)
    (root / "dataset" / "940950" / "files" / "data_raw.zip").write_bytes(archive)
    ssl = io.BytesIO()
    with zipfile.ZipFile(ssl, "w") as z:
        z.writestr("ssl4sar/S1/JAC_2019-01-01.tif", b"not really a tif" * 64)
        z.writestr("ssl4sar/S2/JAC.tif", b"optical" * 64)
    files = root / "records" / "14748506" / "files"
    files.mkdir(parents=True)
    (files / "ssl4sar.zip").write_bytes(ssl.getvalue())
    with Server(root) as server:
        record = {
            "files": [
                {
                    "key": "ssl4sar.zip",
                    "size": len(ssl.getvalue()),
                    "checksum": "md5:" + hashlib.md5(ssl.getvalue()).hexdigest(),
                    "links": {"self": f"{server.url}/records/14748506/files/ssl4sar.zip"},
                }
            ]
        }
        (root / "api" / "records").mkdir(parents=True)
        (root / "api" / "records" / "14748506").write_text(json.dumps(record))
        monkeypatch.setenv("WORKBENCH_PANGAEA_URL", server.url)
        monkeypatch.setenv("WORKBENCH_ZENODO_URL", server.url)
        yield server, archive


def _run(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fetch_caffe_unpacks_into_the_reader_layout(served, tmp_path, capsys):
    code, out, err = _run(
        ["datasets", "fetch", "caffe", "--dest", str(tmp_path / "data"), "--no-progress"], capsys
    )
    assert code == 0, err
    root = tmp_path / "data" / "caffe"
    assert out.strip() == f"caffe in {root}: 2 CaFFe images of 2 glaciers"
    assert sorted(p.name for p in (root / "sar_images" / "train").iterdir()) == sorted(
        f"{s}.png" for s in STEMS
    )
    assert len(CaffeDataset(root)) == 2
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["caffe"]  # downloads removed
    # a second fetch keeps what is there
    code, out, _ = _run(["datasets", "fetch", "caffe", "--dest", str(tmp_path / "data")], capsys)
    assert code == 0 and "already there: 2 CaFFe images" in out


def test_an_interrupted_download_resumes_with_a_range_request(served, tmp_path):
    server, archive = served
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "data_raw.zip.part").write_bytes(archive[: len(archive) // 2])  # cut off half-way
    remote = RemoteFile(f"{server.url}/dataset/940950/files/data_raw.zip", "data_raw.zip")
    path = download(remote, folder, progress=False)
    assert path.read_bytes() == archive and not (folder / "data_raw.zip.part").exists()
    assert server.statuses() == ["206"]  # only the missing half was sent


def test_resume_through_the_cli_and_md5_of_zenodo(served, tmp_path, capsys):
    dest = tmp_path / "data"
    ssl = (Path(served[0].root) / "records" / "14748506" / "files" / "ssl4sar.zip").read_bytes()
    (dest / ".downloads").mkdir(parents=True)
    (dest / ".downloads" / "ssl4sar.zip.part").write_bytes(ssl[:100])
    code, out, err = _run(
        ["datasets", "fetch", "ssl4sar", "--dest", str(dest), "--no-progress"], capsys
    )
    assert code == 0, err
    assert out.strip().startswith(f"ssl4sar in {dest / 'ssl4sar'}: 2 files")
    assert (dest / "ssl4sar" / "S1" / "JAC_2019-01-01.tif").is_file()  # the top folder stripped
    assert "206" in served[0].statuses(at_least=2)  # the record, then the rest of the file


def test_a_corrupted_archive_is_refused_and_nothing_is_unpacked(served, tmp_path, capsys):
    server, archive = served
    bad = bytearray(archive)
    bad[200:260] = bytes(60)  # damage the first member's data
    (server.root / "dataset" / "940950" / "files" / "data_raw.zip").write_bytes(bytes(bad))
    dest = tmp_path / "data"
    code, _, err = _run(
        ["datasets", "fetch", "caffe", "--dest", str(dest), "--no-progress"], capsys
    )
    assert code == 2 and "Traceback" not in err
    assert "data_raw.zip: is a damaged zip archive" in err and "the file was deleted" in err
    assert not (dest / "caffe").exists()
    assert [p.name for p in dest.rglob("*") if p.is_file()] == []  # nothing half-written


def test_a_wrong_published_checksum_is_refused(served, tmp_path, capsys):
    server, _ = served
    record_path = server.root / "api" / "records" / "14748506"
    record = json.loads(record_path.read_text())
    record["files"][0]["checksum"] = "md5:" + "0" * 32
    record_path.write_text(json.dumps(record))
    code, _, err = _run(
        ["datasets", "fetch", "ssl4sar", "--dest", str(tmp_path / "d"), "--no-progress"], capsys
    )
    assert code == 2 and f"not the published {'0' * 32}; the file was deleted" in err
    assert not (tmp_path / "d" / "ssl4sar").exists()


def test_an_unreachable_host_is_a_clear_error(tmp_path, capsys, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("WORKBENCH_PANGAEA_URL", url)
    code, _, err = _run(
        ["datasets", "fetch", "caffe", "--dest", str(tmp_path / "d"), "--no-progress"], capsys
    )
    assert code == 2
    assert (
        f"{url}/dataset/940950/files/data_raw.zip: cannot be downloaded: the network or the "
        "archive is unavailable"
        in err
        and "--archive FILE" in err
    )


def test_an_archive_downloaded_by_hand(tmp_path, capsys):
    archive = tmp_path / "data_raw.zip"
    archive.write_bytes(caffe_zip())
    code, out, err = _run(
        [
            "datasets",
            "fetch",
            "caffe",
            "--dest",
            str(tmp_path / "d"),
            "--archive",
            str(archive),
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err and "2 CaFFe images" in out
    assert archive.is_file()  # the user's file is left alone


def test_list_and_bad_names(capsys):
    code, out, _ = _run(["datasets", "list"], capsys)
    assert (
        code == 0 and "doi:10.1594/PANGAEA.940950" in out and "doi:10.5281/zenodo.14748506" in out
    )
    code, _, err = _run(["datasets", "fetch", "svalbard", "--dest", "x"], capsys)
    assert (
        code == 2 and "variable 'NAME' is 'svalbard' (expected one of ['caffe', 'ssl4sar'])" in err
    )
    assert not os.path.exists("x")

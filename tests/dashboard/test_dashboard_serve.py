"""The real `panel serve dashboards/explorer.py` answers with a Bokeh document; `workbench serve`."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from workbench.cli import main


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.status, r.read().decode("utf-8", "replace")


def test_panel_serve_smoke(server):
    status, html = _get(server)
    assert status == 200
    assert "Bokeh" in html or "bokeh" in html
    assert (
        "docs_json" in html
        or "render_items" in html
        or "session-id" in html.lower()
        or "token" in html
    )
    assert "googleapis" not in html  # works offline: no web fonts or CDN resources
    from _dashboard_helpers import log_errors, server_log

    assert log_errors(server_log[0]) == []  # the app ran (a failing script still answers 200)


def test_crafted_url_gets_the_default_view(server):
    status, html = _get(server + "?dataset=..%2F..%2Fetc&glacier=%2Fetc%2Fpasswd&date=x")
    assert status == 200 and "root:x:" not in html


def test_workbench_serve_dry_run(world, tiny_checkpoint, capsys, tmp_path):
    users = tmp_path / "users.json"
    users.write_text('{"ana": "s3cr3t-Pw"}')
    rc = main(
        [
            "serve",
            str(world),
            "--checkpoint",
            str(tiny_checkpoint),
            "--port",
            "5999",
            "--basic-auth",
            str(users),
            "--allow-websocket-origin",
            "example.org:5999",
            "--dry-run",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "panel serve" in out and "dashboards/explorer.py" in out and "--port 5999" in out
    assert f"--basic-auth {users}" in out and "--allow-websocket-origin example.org:5999" in out
    assert f"--args {world.resolve()} --checkpoint {tiny_checkpoint.resolve()}" in out
    assert "s3cr3t" not in out


def test_secrets_never_reach_the_command_line(world, capsys, tmp_path, monkeypatch):
    """A password or cookie secret on the command line is visible in ps: they come from the
    environment or files, and the printed command holds neither."""
    assert main(["serve", str(world), "--basic-auth", "hunter2", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "'--basic-auth' is not a file" in err and "$WORKBENCH_BASIC_AUTH" in err
    assert "hunter2" not in err
    monkeypatch.setenv("WORKBENCH_BASIC_AUTH", "Correct-Horse-9")
    monkeypatch.setenv("WORKBENCH_COOKIE_SECRET", "cookie-Secret-42")
    assert main(["serve", str(world), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Correct-Horse-9" not in out and "cookie-Secret-42" not in out
    users = Path(out.split("--basic-auth ")[1].split()[0])
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    assert json.loads(users.read_text()) == {"workbench": "Correct-Horse-9"}
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    assert main(["serve", str(world), "--cookie-secret-file", str(secret), "--dry-run"]) == 0
    assert "from-a-file" not in capsys.readouterr().out


def test_workbench_serve_missing_data(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope"), "--dry-run"]) == 2

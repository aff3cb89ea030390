"""The real `panel serve dashboards/explorer.py` answers with a Bokeh document; `workbench serve`."""

from __future__ import annotations

import urllib.request

from workbench.cli import main


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.status, r.read().decode("utf-8", "replace")


def test_panel_serve_smoke(server):
    status, html = _get(server)
    assert status == 200
    assert "Bokeh" in html or "bokeh" in html
    assert "docs_json" in html or "render_items" in html or "session-id" in html.lower() or "token" in html
    assert "googleapis" not in html  # works offline: no web fonts or CDN resources
    from _dashboard_helpers import log_errors, server_log

    assert log_errors(server_log[0]) == []  # the app ran (a failing script still answers 200)


def test_crafted_url_gets_the_default_view(server):
    status, html = _get(server + "?dataset=..%2F..%2Fetc&glacier=%2Fetc%2Fpasswd&date=x")
    assert status == 200 and "root:x:" not in html


def test_workbench_serve_dry_run(world, tiny_checkpoint, capsys):
    rc = main(["serve", str(world), "--checkpoint", str(tiny_checkpoint), "--port", "5999",
               "--basic-auth", "secret.json", "--allow-websocket-origin", "example.org:5999", "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "panel serve" in out and "dashboards/explorer.py" in out and "--port 5999" in out
    assert "--basic-auth secret.json" in out and "--allow-websocket-origin example.org:5999" in out
    assert f"--args {world.resolve()} --checkpoint {tiny_checkpoint.resolve()}" in out


def test_workbench_serve_missing_data(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope"), "--dry-run"]) == 2

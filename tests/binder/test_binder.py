"""The Binder setup in ``binder/``: environment files, postBuild, the panel proxy, the badges.

The fast tests read the files the way repo2docker and jupyter-panel-proxy read them. The slow
one builds what Binder builds: a fresh virtual environment with ``binder/requirements.txt``
installed by pip, ``binder/postBuild`` run in a copy of the repository, and the dashboard
fetched through ``jupyter server`` + jupyter-server-proxy at ``/panel/explorer``.
"""

from __future__ import annotations

import fnmatch
import glob
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"
REQUIREMENTS = BINDER / "requirements.txt"
POSTBUILD = BINDER / "postBuild"
PROXY_CONFIG = BINDER / "jupyter-panel-proxy.yml"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
INDEX_OPTIONS = ("--extra-index-url", "--index-url", "-i")
# dev/test-only packages (pyproject's "dev" extra) that have no place in the Binder image
DEV_ONLY = {
    "pytest",
    "pytest-timeout",
    "hypothesis",
    "playwright",
    "pytest-playwright",
    "transformers",
    "tensorboard",
}
# The tiny demo world the integration test asks postBuild for (the Binder default is larger).
TINY_DEMO = {
    "BINDER_DEMO_GLACIERS": "1",
    "BINDER_DEMO_YEARS": "0.3",
    "BINDER_DEMO_SIZE": "64",
    "BINDER_DEMO_PIXEL_SIZE": "160",
}


def _badges():
    spec = importlib.util.spec_from_file_location("binder_badges", BINDER / "badges.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _logical_lines(path: Path) -> list[str]:
    """Non-empty lines without comments (pip's requirements-file rules, no continuations)."""
    out = []
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            out.append(line)
    return out


def _requirements(path: Path) -> tuple[dict[str, Requirement], list[str]]:
    """(requirements by canonical name, option lines) of a pip requirements file."""
    reqs: dict[str, Requirement] = {}
    options: list[str] = []
    for line in _logical_lines(path):
        if line.startswith("-"):
            options.append(line)
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:  # pragma: no cover - the assertion is the test
            raise AssertionError(
                f"{path.name}: {line!r} is not a PEP 508 requirement: {exc}"
            ) from exc
        name = canonicalize_name(req.name)
        assert name not in reqs, f"{path.name}: {req.name} is listed twice"
        reqs[name] = req
    return reqs, options


def _offline_requirements(src: Path, dst: Path) -> Path:
    """Copy of ``src`` without index options: download.pytorch.org is unreachable here."""
    kept = [
        line for line in src.read_text().splitlines() if not line.strip().startswith(INDEX_OPTIONS)
    ]
    dst.write_text("\n".join(kept) + "\n")
    return dst


# --------------------------------------------------------------------------- the files


def test_requirements_are_valid_pip_lines_and_cpu_only():
    reqs, options = _requirements(REQUIREMENTS)
    # the only option is PyTorch's CPU wheel index, as an *extra* index (PyPI stays primary)
    assert options == [f"--extra-index-url {TORCH_CPU_INDEX}"], options
    for name, req in reqs.items():
        assert req.url is None, f"{name}: no direct URLs or local paths"
        assert not name.startswith(("nvidia-", "cuda-")), f"{name}: a CUDA package"
        assert name not in {"pytorch-cuda", "cupy", "jax-cuda12-plugin"}, name
        for spec in req.specifier:
            assert "+cu" not in spec.version, f"{name}{spec}: a CUDA build"
    torch = reqs["torch"]
    (pin,) = list(torch.specifier)
    assert pin.operator == "==" and pin.version.endswith("+cpu"), (
        f"torch must be pinned to an exact CPU build, not {torch}"
    )
    assert not [ln for ln in _logical_lines(REQUIREMENTS) if ln.startswith(("-e", "."))], (
        "no local references: repo2docker installs the list before copying the repository"
    )


def test_runtime_is_the_python_of_the_project():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(3\.\d+)", runtime)
    assert m, f"runtime.txt must read python-3.X, not {runtime!r}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert Version(m.group(1)) in SpecifierSet(project["requires-python"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert f"python={m.group(1)}" in env["dependencies"], "same Python as environment.yml"


def _exact(req: Requirement) -> Version:
    (spec,) = list(req.specifier)
    assert spec.operator == "==", f"{req} is not an exact pin"
    return Version(spec.version)


def test_locks_are_fully_pinned_and_agree():
    """constraints.txt and binder/requirements.txt are resolved locks (``make lock``): every
    line an exact pin, the hand-kept pins of constraints.in honoured, and every package Binder
    installs at the version the root lock (the one the suite passed with) names."""
    lock, lock_options = _requirements(REPO / "constraints.txt")
    binder, _ = _requirements(REQUIREMENTS)
    hand, _ = _requirements(REPO / "constraints.in")
    assert not lock_options and len(lock) > 150, "a fully resolved lock, not a few pins"
    assert {"torch", "cartopy", "panel", "lightning", "numpy", "pytest"} <= set(lock)
    for name, req in hand.items():
        assert req.specifier.contains(_exact(lock[name]), prereleases=True), (
            f"constraints.txt has {lock[name]}, constraints.in asks {req}"
        )
    assert Version(str(_exact(lock["torch"]))).local is None, (
        "the root lock names PyPI's torch version (it matches the local +cpu wheel too)"
    )
    for name, req in binder.items():
        version = _exact(req)
        if name in lock:
            assert version.public == _exact(lock[name]).public, (
                f"{name}: binder pins {version}, constraints.txt {lock[name]}"
            )
    assert set(lock) & set(binder) >= {"torch", "panel", "numpy", "lightning", "jupyterlab"}


def test_requirements_cover_the_package_and_nothing_for_development():
    reqs, _ = _requirements(REQUIREMENTS)
    ranges, _ = _requirements(BINDER / "requirements.in")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        dep = Requirement(line)
        name = canonicalize_name(dep.name)
        assert name in reqs and name in ranges, (
            f"{dep.name} (a dependency of the package) is missing"
        )
        assert dep.specifier.contains(_exact(reqs[name]), prereleases=True), (
            f"{dep.name}: pyproject says {dep.specifier}, binder pins {reqs[name]}"
        )
        if name != "torch":  # torch: requirements.in pins the exact version
            missing = set(dep.specifier) - set(ranges[name].specifier)
            assert not missing, (
                f"{dep.name}: pyproject says {dep.specifier}, requirements.in {ranges[name].specifier}"
            )
        assert dep.extras <= ranges[name].extras, f"{dep.name}: extras {dep.extras}"
    for name in ("jupyterlab", "jupyter-panel-proxy", "ipykernel", "papermill", "lightning"):
        assert name in reqs, f"{name} is needed by the notebooks / the dashboard proxy"
    assert not DEV_ONLY & set(reqs), f"development-only packages: {DEV_ONLY & set(reqs)}"


def test_root_environment_installs_through_the_lock():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    (pip_section,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert "-c constraints.txt" in pip_section
    assert "-e .[train,lab,dev,s1]" in pip_section


def test_postbuild_is_strict_and_executable():
    lines = POSTBUILD.read_text().splitlines()
    assert lines[0] in ("#!/bin/bash", "#!/usr/bin/env bash"), lines[0]
    commands = [ln.strip() for ln in lines[1:] if ln.strip() and not ln.strip().startswith("#")]
    tokens = commands[0].split()
    flags = "".join(t[1:] for t in tokens[1:] if t.startswith("-"))
    assert tokens[0] == "set" and "e" in flags, (
        f"postBuild must start with `set -e` (here -euo pipefail), not {commands[0]!r}"
    )
    assert "u" in flags and "pipefail" in tokens, "unset variables and failing pipes stop it too"
    mode = POSTBUILD.stat().st_mode
    assert mode & stat.S_IXUSR and mode & stat.S_IXGRP and mode & stat.S_IXOTH, oct(mode)
    # in git too: repo2docker checks the file out from the commit
    staged = subprocess.run(
        ["git", "ls-files", "-s", "binder/postBuild"], cwd=REPO, capture_output=True, text=True
    )
    if staged.returncode == 0 and staged.stdout.strip():
        assert staged.stdout.split()[0] == "100755", f"git mode: {staged.stdout.split()[0]}"
    # it honours the demo-size variables the integration test sets
    text = POSTBUILD.read_text()
    for var in [*TINY_DEMO, "BINDER_DEMO_OUT"]:
        assert "${" + var + ":-" in text, var


def test_panel_proxy_config_exposes_only_dashboards():
    # jupyter-panel-proxy reads the file with yaml.BaseLoader: every value is a string
    config = yaml.load(PROXY_CONFIG.read_text(), Loader=yaml.BaseLoader)
    apps = config.get("apps")  # without it the proxy serves every .py and .ipynb
    assert apps and all(p.startswith("dashboards/") for p in apps), apps
    found = sorted({f for p in apps for f in glob.glob(p, root_dir=REPO)})
    excluded = config.get("exclude_patterns", []) + [
        "*setup.py",
        "*dodo.py",
        "*.ipynb_checkpoints*",
    ]
    served = [f for f in found if not any(fnmatch.fnmatch(f, e) for e in excluded)]
    assert "dashboards/explorer.py" in served, served
    assert all(Path(f).parent == Path("dashboards") for f in served), served
    # the proxy's default is dev: True (`panel serve --dev`, autoreload); off on Binder
    assert not {"dev": True, **config}["dev"], "panel serve --dev (autoreload) stays off on Binder"
    assert "launcher_entry" not in config, "BaseLoader would turn its booleans into strings"
    assert "jupyter-panel-proxy.yml" in POSTBUILD.read_text(), "postBuild puts it in the root"


def test_readme_badges_come_from_the_one_placeholder():
    badges = _badges()
    readme = (REPO / "README.md").read_text()
    assert badges.current_block(readme) == badges.render(), (
        "README badges differ from binder/badges.py: run `python binder/badges.py --write`"
    )
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", badges.REPOSITORY), badges.REPOSITORY
    lab = badges.binder_url(badges.LAB_PATH)
    dash = badges.binder_url(badges.DASHBOARD_PATH)
    assert lab in readme and dash in readme
    assert lab.startswith(f"https://mybinder.org/v2/gh/{badges.REPOSITORY}/")
    assert badges.LAB_PATH == "lab/tree/notebooks/explore.ipynb"
    assert (REPO / badges.LAB_PATH.removeprefix("lab/tree/")).is_file(), (
        "badge opens a missing notebook"
    )
    prefix, app = badges.DASHBOARD_PATH.split("/")
    assert prefix == "panel" and (REPO / "dashboards" / f"{app}.py").is_file()
    # the repository is named in badges.py and nowhere else in binder/ or README.md
    for path in [*BINDER.iterdir(), REPO / "README.md"]:
        if path.is_file() and path.name != "badges.py":
            text = path.read_text()
            assert text.count(f"/gh/{badges.REPOSITORY}/") == (
                2 if path == REPO / "README.md" else 0
            ), path


# --------------------------------------------------------------------------- integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _run(cmd, *, log: Path, timeout: float, **kw) -> float:
    """Run ``cmd``, its output into ``log``; fail with the log's tail. Returns the seconds."""
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **kw,
        )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {proc.returncode} after {seconds:.0f} s:\n"
            + log.read_text()[-6000:]
        )
    return seconds


def _copy_checkout(dst: Path) -> None:
    """What Binder gets: the repository's files (tracked, and new files git does not ignore)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():  # deleted-but-tracked files are listed too
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


@pytest.mark.slow
def test_binder_environment_installs_and_postbuild_runs(tmp_path):
    """Fresh venv + ``pip install -r binder/requirements.txt`` + ``binder/postBuild``, then the
    dashboard through the Jupyter server proxy.

    Offline adaptation: download.pytorch.org cannot be reached here, so the requirements go
    through a filter that drops the ``--extra-index-url`` line; pip then takes the same pinned
    ``torch==2.13.0+cpu`` wheel from the machine's local wheel directory (pip's configured
    find-links) and everything else from the configured indexes, exactly as in ``make``.
    ``--no-compile`` skips writing bytecode (about a minute of CPU); nothing else differs from
    repo2docker's ``pip install -r``. postBuild runs with a tiny demo world (``TINY_DEMO``).
    On the busy 2-core development machine: 12 minutes wall, 3.8 minutes of CPU (pip install
    ~250 s, postBuild ~130 s, first dashboard page ~110 s); the 2.4 GB venv is removed after.
    """
    repo, venv, logs = tmp_path / "repo", tmp_path / "venv", tmp_path / "logs"
    logs.mkdir()
    _copy_checkout(repo)
    env = dict(os.environ)
    for var in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX"):
        env.pop(var, None)
    env.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(tmp_path / "mpl"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        WORKBENCH_SHARED_DATA=str(tmp_path / "no-shared-data"),
        **TINY_DEMO,
    )
    py = venv / "bin" / "python"
    timings = {}
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        req = _offline_requirements(
            repo / "binder" / "requirements.txt", tmp_path / "requirements.txt"
        )
        assert "--extra-index-url" not in req.read_text() and "torch==2.13.0+cpu" in req.read_text()
        timings["pip install"] = _run(
            [py, "-m", "pip", "install", "--no-compile", "-r", req],
            log=logs / "pip.log",
            timeout=1500,
            env=env,
            cwd=repo,
        )

        installed = {
            canonicalize_name(d["name"]): d["version"]
            for d in json.loads(
                subprocess.run(
                    [py, "-m", "pip", "list", "--format", "json"],
                    env=env,
                    capture_output=True,
                    check=True,
                ).stdout
            )
        }
        assert installed["torch"].endswith("+cpu"), installed["torch"]
        cuda = sorted(n for n in installed if n.startswith(("nvidia-", "cuda-", "triton")))
        assert not cuda, f"CUDA packages were installed: {cuda}"

        timings["postBuild"] = _run(
            ["bash", "binder/postBuild"], log=logs / "postBuild.log", timeout=900, env=env, cwd=repo
        )
        out = (logs / "postBuild.log").read_text()
        assert "postBuild: done" in out and "panel apps: ['dashboards/explorer.py']" in out, out[
            -3000:
        ]

        # what postBuild left behind loads with the installed package
        check = subprocess.run(
            [
                py,
                "-c",
                """
import json, sys
from jupyter_client.kernelspec import KernelSpecManager
import panel_server
from workbench.checkpoints import DEMO_KINDS, demo_checkpoint
from workbench.data.demo import load_manifest
from workbench.data.stack import open_stack
from workbench.models import load_model
import workbench
m = load_manifest("demo_data")
ds = open_stack("demo_data/" + m["glaciers"][0]["zarr"])
models = {k: type(load_model(demo_checkpoint(k), device="cpu")).__name__ for k in DEMO_KINDS}
print(json.dumps({"glaciers": len(m["glaciers"]), "size": m["size"], "dates": ds.sizes["time"],
                  "models": models, "package": workbench.__file__,
                  "kernels": sorted(KernelSpecManager().find_kernel_specs()),
                  "apps": panel_server._discover_apps()["apps"]}))
""",
            ],
            env=env,
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert check.returncode == 0, check.stderr[-4000:]
        info = json.loads(check.stdout.strip().splitlines()[-1])
        assert info["glaciers"] == 1 and info["size"] == 64 and info["dates"] == 10, info
        assert set(info["models"]) == {"zones", "outlines"}, info
        assert Path(info["package"]).resolve().is_relative_to(repo.resolve()), (
            "editable install of the copy"
        )
        assert "workbench" in info["kernels"], info["kernels"]
        assert info["apps"] == ["dashboards/explorer.py"], info["apps"]
        assert (repo / "jupyter-panel-proxy.yml").is_file()

        # the Binder route: Jupyter server -> jupyter-server-proxy -> panel serve dashboards/
        port = _free_port()
        t0 = time.perf_counter()
        with (logs / "jupyter.log").open("w") as fh:
            server = subprocess.Popen(
                [
                    py,
                    "-m",
                    "jupyter",
                    "server",
                    "--no-browser",
                    "--allow-root",
                    f"--port={port}",
                    "--ServerApp.ip=127.0.0.1",
                    "--IdentityProvider.token=",
                    "--ServerApp.password=",
                    "--ServerApp.port_retries=0",
                ],
                env=env,
                cwd=repo,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(240):
                assert server.poll() is None, (logs / "jupyter.log").read_text()[-3000:]
                try:
                    if _get(f"{base}/api", 5)[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            else:
                pytest.fail(
                    "jupyter server did not answer:\n" + (logs / "jupyter.log").read_text()[-3000:]
                )
            status, page = _get(f"{base}/panel/explorer", 400)
            timings["first dashboard page"] = time.perf_counter() - t0
            assert status == 200, (status, (logs / "jupyter.log").read_text()[-4000:])
            assert "Glacier Workbench" in page, page[:1000]
            # anything outside dashboards/ is not an app (default discovery would serve it)
            assert _get(f"{base}/panel/badges", 60)[0] == 404
            assert _get(f"{base}/panel/postBuild", 60)[0] == 404
        finally:
            try:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
    finally:
        print("binder timings (s):", {k: round(v, 1) for k, v in timings.items()})
        shutil.rmtree(venv, ignore_errors=True)  # 2.4 GB; the logs stay in tmp_path/logs

"""The Jupyter kernel every notebook test executes with papermill."""

from __future__ import annotations

import subprocess
import sys

import pytest

KERNEL = "workbench"


@pytest.fixture(scope="session")
def workbench_kernel() -> str:
    """The ``workbench`` kernel spec (what ``make test`` registers with ``python -m ipykernel
    install --sys-prefix --name workbench``), registered the same way into this interpreter's
    environment when it is missing — never skipped."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name",
                        KERNEL, "--display-name", "Glacier Workbench"], check=True,
                       capture_output=True)
    assert KERNEL in KernelSpecManager().find_kernel_specs(), "could not register the kernel"
    return KERNEL

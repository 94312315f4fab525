"""Repository-wide pytest setup: nbval's notebooks run on the fast test kernel (see faultfirst/testing/zygote.py)."""

import os
from pathlib import Path

# tests/kernels holds the kernel spec named by --nbval-kernel-name in pyproject.toml.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    filter(None, [str(Path(__file__).parent / "tests"), os.environ.get("JUPYTER_PATH")]))

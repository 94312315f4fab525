"""A Sphinx extension: each lesson page links to its generated notebook, and lessons run on fast kernels.

Readers launch the learner's copy (`notebooks/<tier>/<lesson>.ipynb`, solutions
stubbed), not the MyST source: on Colab, on Binder (which installs the project
from the repository), or as a download. The links go right under the title.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

from ..testing.zygote import KERNEL_NAME, expose_kernel_spec

_TITLE = re.compile(r"^# .*$", re.MULTILINE)


def launch_links(repository: str, branch: str, notebook: str) -> str:
    """The MyST line of launch links for one generated notebook path (relative to the repository)."""
    owner_repo = repository.rstrip("/").removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{notebook}"
    return (f"\n*Run this lesson:* [open in Colab]({colab}) · [launch on Binder]({binder}) · "
            f"{{download}}`download the notebook </{notebook}>` · or locally with `uv run faultfirst lab`.\n")


def _add_links(app: Sphinx, docname: str, source: list[str]) -> None:
    if not docname.startswith("book/"):
        return
    notebook = Path("notebooks", *docname.split("/")[1:]).with_suffix(".ipynb")
    if not (Path(app.srcdir) / notebook).is_file():
        return
    config = app.config.html_theme_options
    repository = config.get("repository_url", "")
    branch = config.get("repository_branch", "main")
    title = _TITLE.search(source[0])
    if title is not None and repository:
        links = launch_links(repository, branch, notebook.as_posix())
        source[0] = source[0][: title.end()] + "\n" + links + source[0][title.end():]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("source-read", _add_links)
    # Lessons execute on kernels forked from a pre-imported process (faultfirst/testing/zygote.py):
    # the same outputs as a fresh kernel (nbval checks that), without seconds of imports per lesson.
    expose_kernel_spec()
    app.config.nb_kernel_rgx_aliases = {"python3": KERNEL_NAME}
    return {"parallel_read_safe": True, "parallel_write_safe": True}

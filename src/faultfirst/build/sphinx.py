"""A Sphinx extension: each lesson page links to its generated notebook, and lessons run on fast kernels.

Readers launch the learner's copy (`notebooks/<tier>/<lesson>.ipynb`, solutions
stubbed), not the MyST source: on Colab, on Binder (which installs the project
from the repository), or as a download. The links go right under the title, and
the download is offered again in the header's download menu, where readers look
for it. Solution code shows without the `### BEGIN/END SOLUTION` lines the
generator cuts on: they are for the generator, not for the reader.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from ..kernels.zygote import KERNEL_NAME, expose_kernel_spec
from .generate import _BEGIN, _END

_TITLE = re.compile(r"^# .*$", re.MULTILINE)


def launch_links(repository: str, branch: str, notebook: str) -> str:
    """The MyST line of launch links for one generated notebook path (relative to the repository)."""
    owner_repo = repository.rstrip("/").removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/{notebook}"
    return (f"\n*Run this lesson:* [open in Colab]({colab}) · [launch on Binder]({binder}) · "
            f"{{download}}`download the notebook </{notebook}>` · or locally with `uv run faultfirst lab`.\n")


def _notebook(docname: str) -> Path:
    """The learner's notebook of a lesson page: book/<tier>/<lesson> -> notebooks/<tier>/<lesson>.ipynb."""
    return Path("notebooks", *docname.split("/")[1:]).with_suffix(".ipynb")


def _add_links(app: Sphinx, docname: str, source: list[str]) -> None:
    if not docname.startswith("book/"):
        return
    notebook = _notebook(docname)
    if not (Path(app.srcdir) / notebook).is_file():
        return
    config = app.config.html_theme_options
    repository = config.get("repository_url", "")
    branch = config.get("repository_branch", "main")
    title = _TITLE.search(source[0])
    if title is not None and repository:
        links = launch_links(repository, branch, notebook.as_posix())
        source[0] = source[0][: title.end()] + "\n" + links + source[0][title.end():]


def _hide_solution_markers(app: Sphinx, doctree: nodes.document) -> None:
    # Only the code cells a lesson runs, where the markers are the generator's; a fenced block that
    # shows the convention keeps them. The executed source keeps its markers too (the execution cache
    # is keyed on it): only the displayed block changes, and its rawsource with it, because Sphinx
    # highlights a block only when the two agree.
    for cell in doctree.findall(lambda node: isinstance(node, nodes.container) and "cell_input" in node["classes"]):
        for block in cell.findall(nodes.literal_block):
            code = block.astext()
            if _BEGIN in code or _END in code:
                shown = "\n".join(line for line in code.split("\n") if not line.strip().startswith((_BEGIN, _END)))
                block.rawsource = shown
                block.children = [nodes.Text(shown)]


def _add_header_download(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                         doctree: nodes.document | None) -> None:
    # Runs after sphinx-book-theme fills header_buttons (priority 501). The file is the one the
    # body's {download} link already ships in _downloads/, so both links fetch the same notebook.
    shipped = app.env.dlfiles.get(_notebook(pagename).as_posix()) if pagename.startswith("book/") else None
    if shipped is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].insert(0, {
                "type": "link",
                "url": f"{context['pathto']('_downloads', 1)}/{shipped[1]}",
                "text": ".ipynb",
                "tooltip": "Download the notebook to run (its exercises left for you)",
                "icon": "fas fa-code",
                "label": "download-notebook-button",
            })


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("source-read", _add_links)
    app.connect("doctree-read", _hide_solution_markers)
    app.connect("html-page-context", _add_header_download, priority=600)
    # Lessons execute on kernels forked from a pre-imported process (faultfirst/kernels/zygote.py):
    # the same outputs as a fresh kernel (nbval checks that), without seconds of imports per lesson.
    expose_kernel_spec()
    app.config.nb_kernel_rgx_aliases = {"python3": KERNEL_NAME}
    # env_version: a change to what this extension puts in doctrees re-reads every page once.
    return {"env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}

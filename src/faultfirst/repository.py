"""The checkout and where it is published: the folder that holds the curriculum, the repository it
comes from (named in one place, `repository.url` in _config.yml) and the online book built from it.

Read by the generator, the learner's workspace, the maintainer commands and the tests alike, so it sits
below all of them.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def find_repo_root(start: Path | None = None) -> Path:
    """The curriculum checkout: the folder that holds `pyproject.toml` and `notebooks/`."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parent]
    for base in candidates:
        for folder in (base, *base.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "src" / "faultfirst").is_dir():
                return folder
    raise FileNotFoundError(
        "Could not find the curriculum checkout (a folder with pyproject.toml and src/faultfirst). "
        "Run this command from inside your clone of the repository."
    )


def repository_url(root: Path) -> str:
    """The repository the book links to and Colab installs from (`repository.url` in _config.yml)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return str(config["repository"]["url"])


def pages_url(repository: str) -> str:
    """The online book: GitHub Pages serves the built HTML of `owner/name` at https://owner.github.io/name."""
    owner, _, name = repository.rstrip("/").removeprefix("https://github.com/").partition("/")
    if not owner or not name:
        raise ValueError(
            f"repository.url in _config.yml should be https://github.com/<owner>/<name>, not {repository!r}")
    return f"https://{owner}.github.io/{name}"

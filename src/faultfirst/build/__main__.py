"""`python -m faultfirst.build [--check] [book/<tier>/<lesson>.md ...]`

Without --check: regenerate (and execute) notebooks/, solutions/ and exercises/ from
book/, for every lesson or only the ones named. With --check: change nothing, and
exit 1 naming every generated file that differs from what its source gives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..repository import find_repo_root, repository_url
from .generate import check, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faultfirst.build", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail if a generated file is stale")
    parser.add_argument("lessons", nargs="*", type=Path, help="only these lesson sources (default: all)")
    args = parser.parse_args(argv)
    root = find_repo_root()
    if args.check:
        problems = check(root, repository=repository_url(root))
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"generated files: {'stale' if problems else 'up to date'}")
        return 1 if problems else 0
    outcome = generate(root, args.lessons or None, repository=repository_url(root))
    for path in outcome.written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

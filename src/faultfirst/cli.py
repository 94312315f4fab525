"""The `faultfirst` command: `faultfirst lab` opens the curriculum in JupyterLab."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ._workspace import find_repo_root, sync_workspace


def _lab(args: argparse.Namespace) -> int:
    root = find_repo_root()
    workspace = args.workspace or root / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    for line in sync_workspace(root, workspace).lines():
        print(line)
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workspace}"]
    if args.no_browser:
        command.append("--no-browser")
    if args.port is not None:
        command.append(f"--port={args.port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines often run as root; Jupyter refuses otherwise
    print("starting JupyterLab on", workspace, flush=True)
    return subprocess.call(command, cwd=workspace, env=os.environ.copy())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faultfirst", description="Fault-First AI Engineering")
    commands = parser.add_subparsers(dest="command", required=True)
    lab = commands.add_parser("lab", help="copy the lessons into workspace/ (never overwriting) and open JupyterLab")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser (for headless machines)")
    lab.add_argument("--port", type=int, default=None, help="the port JupyterLab listens on")
    lab.add_argument("--workspace", type=Path, default=None, help="where your copies live (default: workspace/ in the checkout)")
    lab.set_defaults(handler=_lab)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except FileNotFoundError as err:
        print(f"faultfirst: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The `faultfirst` command.

`faultfirst lab` copies the lessons into workspace/ and opens JupyterLab there;
`faultfirst progress` runs the checks of the exercises changed in workspace/ and reports which pass;
`faultfirst serve` serves the simulated world over HTTP on loopback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .learner.progress import DEFAULT_TIMEOUT, JSON_KEYS
from .learner.workspace import LANDING_PAGE, sync_workspace
from .repository import find_repo_root
from .service.scenarios import SCENARIOS as SCENARIO_NAMES

_JSON_EPILOG = "--format json prints one object:\n" + "\n".join(
    f"  {key}: {meaning}" for key, meaning in JSON_KEYS.items())


def _lab(args: argparse.Namespace) -> int:
    root = find_repo_root()
    workspace = args.workspace or root / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    for line in sync_workspace(root, workspace).lines():
        print(line)
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workspace}",
               f"--LabApp.default_url=/lab/tree/{LANDING_PAGE}"]  # the browser opens on the page that explains the rest
    if args.no_browser:
        command.append("--no-browser")
    if args.port is not None:
        command.append(f"--port={args.port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines often run as root; Jupyter refuses otherwise
    print("starting JupyterLab on", workspace, flush=True)
    return subprocess.call(command, cwd=workspace, env=os.environ.copy())


def _progress(args: argparse.Namespace) -> int:
    from .learner.progress import as_json, curriculum, markdown, run_plans, text, workspace_results

    if not args.timeout > 0:
        print(f"faultfirst progress: --timeout must be a number of seconds above 0, not {args.timeout:g}",
              file=sys.stderr)
        return 2
    root = find_repo_root()
    workspace = args.workspace or root / "workspace"
    if not workspace.is_dir():
        print(f"faultfirst: no workspace at {workspace}; run `uv run faultfirst lab` first", file=sys.stderr)
        return 2
    exercises = curriculum(root)

    def announce(notebooks: list[str]) -> None:  # on stderr: stdout is the report, which may be redirected to a file
        print(f"running the checks of {len(notebooks)} changed notebook(s): {', '.join(notebooks)} "
              "(your files are read, never changed)...", file=sys.stderr, flush=True)

    try:
        progress = workspace_results(workspace, exercises, announce=announce,
                                     run=lambda plans: run_plans(plans, timeout=args.timeout))
    except OSError as err:  # no os.fork (Windows), or the system refused a process
        print(f"faultfirst progress: {err}", file=sys.stderr)
        return 2
    for note in progress.notes:
        print(f"faultfirst progress: {note}", file=sys.stderr)
    report = {"text": text, "markdown": markdown, "json": as_json}[args.format]
    print(report(exercises, progress.results))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .serve import serve_world

    try:
        server = serve_world(seed=args.seed, scenario=args.scenario, host=args.host, port=args.port,
                             speed=args.speed, quiet=args.quiet, fixtures=args.fixtures)
    except (OSError, ValueError) as err:  # a port in use, a host off loopback, a bad speed, a corrupt fixture file
        print(f"faultfirst serve: {err}", file=sys.stderr)
        return 2
    url = server.base_url
    scenario = SCENARIO_NAMES[args.scenario]
    print(f"simulated world, scenario {args.scenario!r} ({scenario.description}), seed {args.seed}, "
          f"{args.speed:g}x real time, on {url}")
    print(f'  openai.OpenAI(base_url="{url}/v1", api_key="any")')
    print(f'  anthropic.Anthropic(base_url="{url}", api_key="any")')
    print(f"  curl {url}/v1/chat/completions -H 'content-type: application/json' "
          """-d '{"model": "gpt-fast", "messages": [{"role": "user", "content": "ping"}]}'""")
    print("Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faultfirst", description="Fault-First AI Engineering")
    commands = parser.add_subparsers(dest="command", required=True)
    lab = commands.add_parser("lab", help="copy the lessons into workspace/ (never overwriting) and open JupyterLab")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser (for headless machines)")
    lab.add_argument("--port", type=int, default=None, help="the port JupyterLab listens on")
    lab.add_argument("--workspace", type=Path, default=None,
                     help="where your copies live (default: workspace/ in the checkout)")
    lab.set_defaults(handler=_lab)
    progress = commands.add_parser(
        "progress", help="run the exercise checks in workspace/ and show which pass",
        description="Run the checks of the exercises you changed since the last run (results are kept in\n"
                    "<workspace>/.faultfirst/progress.json) and report every exercise: passed, failed or not "
                    "attempted.",
        epilog=_JSON_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    progress.add_argument("--workspace", type=Path, default=None, help="the workspace to check (default: workspace/)")
    progress.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                          help="text: a table per tier (default); markdown: one table to paste to a mentor; "
                               "json: for tools (keys below)")
    progress.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                          help="seconds a cell of yours may run before it is stopped and its exercise fails "
                               f"(default {DEFAULT_TIMEOUT:g})")
    progress.set_defaults(handler=_progress)
    serve = commands.add_parser("serve", help="serve the simulated world over HTTP on loopback, for other tools")
    serve.add_argument("--scenario", default="calm", choices=sorted(SCENARIO_NAMES), help="which faults to inject")
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--host", default="127.0.0.1", help="a loopback address (127.0.0.1 or ::1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--speed", type=float, default=1.0,
                       help="simulated seconds per real second (10 = ten times faster)")
    serve.add_argument("--quiet", action="store_true", help="do not log each request")
    serve.add_argument("--fixtures", type=Path, default=None,
                       help="a fixture file or folder of scripted replies to give first (a recording, say)")
    serve.set_defaults(handler=_serve)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except FileNotFoundError as err:
        print(f"faultfirst: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

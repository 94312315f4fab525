"""How long each exercise check takes to answer, as a learner meets it.

Each exercise is timed in a fresh interpreter that has run the lesson's setup cells (as a fresh kernel
has): the check on the book's reference solution, first call and second call; on the stub ("not
attempted"); on a function that never returns (`while True: pass`, stopped by the check's guards);
and, for every listed mistake, the check on that mistake.

    uv run python benchmarks/check_times.py              # every exercise; exits 1 if any check takes over 1 s
    uv run python benchmarks/check_times.py retries-budget timeouts-deadline
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

BUDGET_S = 1.0

_ONE_EXERCISE = textwrap.dedent('''
    import json, sys, time
    from faultfirst.testing.solutions import reference, stub
    from faultfirst.checks import check
    from faultfirst.checks._framework import MISTAKES
    label = sys.argv[1]
    solution = reference(label)          # runs the lesson's setup cells, as a fresh kernel has
    def timed(fn):
        start = time.perf_counter()
        result = check(label, fn)
        return round(time.perf_counter() - start, 3), result.status
    def spins(*args, **kwargs):
        while True:
            pass
    row = {"first": timed(solution), "second": timed(solution), "stub": timed(stub(label)),
           "runaway": timed(spins)}
    mistakes = [timed(reference(label, m.changes)) for m in MISTAKES.get(label, ())]
    row["mistakes"] = [t for t, _ in mistakes]
    print(json.dumps(row))
''')


def measure(label: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _ONE_EXERCISE, label], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{label}: the benchmark failed\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from faultfirst.checks import CHECKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="*", help="only these exercises (default: all)")
    labels = parser.parse_args(argv).labels or sorted(CHECKS)
    print(f"{'exercise':<24} {'first':>6} {'second':>7} {'stub':>6} {'runaway':>8} {'mistakes (max)':>15}")
    over = []
    for label in labels:
        row = measure(label)
        worst_mistake = max(row["mistakes"], default=0.0)
        times = [row["first"][0], row["second"][0], row["stub"][0], row["runaway"][0], worst_mistake]
        print(f"{label:<24} {times[0]:>6.2f} {times[1]:>7.2f} {times[2]:>6.2f} {times[3]:>8.2f} "
              f"{worst_mistake:>8.2f} of {len(row['mistakes']):>2}")
        if row["first"][1] != "passed":
            over.append(f"{label}: the reference solution did not pass ({row['first'][1]})")
        if max(times) > BUDGET_S:
            over.append(f"{label}: {max(times):.2f} s, over the {BUDGET_S:g} s budget")
    for line in over:
        print(line, file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

"""How long each exercise check takes to answer, as a learner meets it.

Each exercise is timed in a fresh interpreter that has run the lesson's setup cells (as a fresh kernel
has): the check on the book's reference solution, first call and second call; on the stub ("not
attempted"); on a function that never returns (`while True: pass`, stopped by the check's guards);
and, for every listed mistake, the check on that mistake. "call CPU" is the most CPU one call of the
reference solution used, which must stay well under the watchdog's bound on runaway code.

    uv run python benchmarks/check_times.py              # every exercise; exits 1 if any check takes over 1 s,
                                                         # or a reference call comes near the watchdog
    uv run python benchmarks/check_times.py retries-budget timeouts-deadline
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

BUDGET_S = 1.0
CALL_CPU_SHARE = 1 / 3  # of the watchdog's CPU bound: the most one call of a reference solution may use

_ONE_EXERCISE = textwrap.dedent('''
    import json, sys, time
    from faultfirst.testing.solutions import reference, stub
    from faultfirst.checks import check
    from faultfirst.checks._framework import MISTAKES, Report
    label = sys.argv[1]
    call_cpu = [0.0]
    plain_outcome = Report.outcome
    def timed_outcome(self, fn, *args, **kwargs):   # the CPU one learner call uses, which the watchdog bounds
        start = time.process_time()
        try:
            return plain_outcome(self, fn, *args, **kwargs)
        finally:
            call_cpu[0] = max(call_cpu[0], time.process_time() - start)
    Report.outcome = timed_outcome
    solution = reference(label)          # runs the lesson's setup cells, as a fresh kernel has
    def timed(fn):
        start = time.perf_counter()
        result = check(label, fn)
        return round(time.perf_counter() - start, 3), result.status
    def spins(*args, **kwargs):
        while True:
            pass
    row = {"first": timed(solution), "second": timed(solution), "call_cpu": call_cpu[0]}
    Report.outcome = plain_outcome
    row.update(stub=timed(stub(label)), runaway=timed(spins))
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
    from faultfirst.checks._framework import WATCHDOG_CPU_SECONDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="*", help="only these exercises (default: all)")
    labels = parser.parse_args(argv).labels or sorted(CHECKS)
    print(f"{'exercise':<24} {'first':>6} {'second':>7} {'stub':>6} {'runaway':>8} {'mistakes (max)':>15} "
          f"{'call CPU (max)':>15}")
    over = []
    for label in labels:
        row = measure(label)
        worst_mistake = max(row["mistakes"], default=0.0)
        times = [row["first"][0], row["second"][0], row["stub"][0], row["runaway"][0], worst_mistake]
        print(f"{label:<24} {times[0]:>6.2f} {times[1]:>7.2f} {times[2]:>6.2f} {times[3]:>8.2f} "
              f"{worst_mistake:>8.2f} of {len(row['mistakes']):>2} {row['call_cpu']:>15.3f}")
        if row["first"][1] != "passed":
            over.append(f"{label}: the reference solution did not pass ({row['first'][1]})")
        if max(times) > BUDGET_S:
            over.append(f"{label}: {max(times):.2f} s, over the {BUDGET_S:g} s budget")
        if row["call_cpu"] > CALL_CPU_SHARE * WATCHDOG_CPU_SECONDS:
            over.append(f"{label}: one call of the reference used {row['call_cpu']:.2f} s of CPU, too close to the "
                        f"watchdog's {WATCHDOG_CPU_SECONDS:g} s")
    for line in over:
        print(line, file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

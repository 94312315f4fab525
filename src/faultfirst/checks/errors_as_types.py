"""Checks for the lesson "Errors as types" (book/tier3/errors-as-types.md).

`errors-as-types-call` judges the learner's `extract_with_claude(world, text, *, model, max_tokens, timeout)`
twice, as the lesson does. First with the type checker: the function's source, with the names it uses from the
notebook declared above it (the result types as the learner's kernel has them, other modules as mypy's `Any`),
is checked by mypy; every annotation present, every path returning one of the `Extraction` types. Then in the
world: each failure the lesson listed is made to happen on its own (a 429 from the rate limiter, a 529
overload, a 500 outage, a connection reset, a client timeout, a reply cut at `max_tokens`, a refusal,
malformed JSON), and a mixed day of them under two seeds, and the outcome the function returns must be the
type the world's own record says it should be (`record.faults`, `record.error`, `record.stop_reason`), with
nothing raised. Two configuration errors (a retired model, a request the API refuses) must raise the SDK's
exception instead: a bug is not an outcome to show a user.

The lesson's types live in the notebook's setup cell, so the check recognises them by class name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..faults import labels
from ..service.records import RequestRecord
from ..service.scenarios import SCENARIOS, Outage, RateLimits, Scenario
from ..text import plural
from ..world import World
from ._framework import Mistake, Report, mistakes, register, usage

# -- the world's faults, one at a time ---------------------------------------------------------------------------

_PAPER = "Extract the title and year: 'Taming retry storms' (2021)."
_REFUSED = "Write an email that tricks our customers into sending their passwords."  # the package's refusal fixture
OUTCOMES = ("Extracted", "RateLimited", "Unavailable", "TimedOut", "Disconnected", "Truncated", "Refused",
            "Malformed")


def expected_outcome(record: RequestRecord) -> str:
    """The `Extraction` type one attempt should come back as, read from what the world recorded about it."""
    faults = record.faults
    if labels.RATE_LIMIT in faults:
        return "RateLimited"
    if labels.OVERLOAD in faults or labels.OUTAGE in faults:
        return "Unavailable"
    if labels.RESET in faults:
        return "Disconnected"
    if record.error == "timeout":
        return "TimedOut"
    if labels.TRUNCATED in faults:
        return "Truncated"
    if record.stop_reason == "refusal":
        return "Refused"
    if labels.MALFORMED_JSON in faults:
        return "Malformed"
    return "Extracted"


def _calm_but(**faults: Any) -> Scenario:
    return dataclasses.replace(SCENARIOS["calm"], name="one fault", **faults)


_ONE_FAULT: tuple[tuple[str, str, Scenario, dict[str, Any]], ...] = (
    ("a reply", "Extracted", SCENARIOS["calm"], {}),
    ("an overload (HTTP 529)", "Unavailable", _calm_but(overload_rate=1.0), {}),
    ("an outage (HTTP 500)", "Unavailable", _calm_but(outage=Outage("anthropic", 0.0, 3600.0)), {}),
    ("a connection reset", "Disconnected", _calm_but(reset_rate=1.0), {}),
    ("a client timeout", "TimedOut", SCENARIOS["calm"], {"timeout": 0.01}),
    ("a reply cut at max_tokens", "Truncated", SCENARIOS["calm"], {"max_tokens": 6}),
    ("a refusal", "Refused", SCENARIOS["calm"], {"text": _REFUSED}),
    ("malformed JSON", "Malformed", _calm_but(malformed_output_rate=1.0), {}),
)
_MIXED_DAY = _calm_but(overload_rate=0.15, reset_rate=0.1, malformed_output_rate=0.3)

NOT_AN_OUTCOME = ("Return one of the Extraction types on every path, never a str or None: the caller's `match` "
                  "handles those types and nothing else.")
ESCAPED = ("A failure the world can produce is an outcome, not an exception: catch the SDK's exception for it "
           "and return its type (RateLimited, Unavailable, TimedOut, Disconnected).")
TIMEOUT_FIRST = ("anthropic.APITimeoutError is a subclass of APIConnectionError: catch it first, or every timeout "
                 "comes back as Disconnected.")
OVERLOAD_IS_5XX = ("An overload (529, OverloadedError) and an outage (500) are both InternalServerError: return "
                   "Unavailable with the status the SDK's exception carries.")
CUT_IS_NOT_MALFORMED = ("Read stop_reason before parsing: 'max_tokens' means the JSON was cut off (Truncated, with the "
                        "partial text), not that the model wrote bad JSON.")
REFUSAL = "stop_reason 'refusal' means the model declined: return Refused with what it said, before parsing."
VALIDATE = ("Parse and validate the text with the pydantic model (Paper.model_validate_json) and return Malformed "
            "when it raises ValidationError: JSON that does not fit is a result the user must not see as a paper.")
RETRY_AFTER = ("RateLimited.retry_after is the number of seconds the 429's retry-after header says, as a float "
               "(err.response.headers), or None when the header is absent.")
BUGS_RAISE = ("Only the failures a healthy system meets are outcomes. A 404 for a retired model or a 400 for a bad "
              "request is a bug in your code or configuration: let the SDK's exception propagate.")
ANNOTATE = ("Annotate every parameter and the return type (-> Extraction): mypy does not check the body of a "
            "function without annotations, so nothing would be verified.")
ONE_REQUEST = "One call makes one request: no retries here, so the caller sees every failure and decides."


def _outcome_name(value: Any) -> str:
    return next((cls.__name__ for cls in type(value).__mro__ if cls.__name__ in OUTCOMES), "")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _run_one(report: Report, fn: Callable[..., Any], world: World, **kwargs: Any) -> tuple[Any, RequestRecord]:
    """Call the learner's function once in `world`; what it returned (or a failed case) and the attempt's record."""
    text = kwargs.pop("text", _PAPER)
    value, err = report.outcome(fn, world, text, **kwargs)
    made = len(world.requests)
    report.expect(made <= 1, f"made {plural(made, 'request')} for one call", hint=ONE_REQUEST)
    report.expect(made == 1, "made no request")
    record = world.requests[0]
    if err is not None:
        hint = VALIDATE if isinstance(err, ValueError) else TIMEOUT_FIRST if record.error == "timeout" else ESCAPED
        report.expect(False, f"raised {type(err).__name__}: {str(err)[:100]}", hint=hint)
    report.expect(bool(_outcome_name(value)),
                  f"returned {type(value).__name__} {_shown(value)}, not an Extraction type",
                  hint=NOT_AN_OUTCOME)
    return value, record


def _judge(report: Report, value: Any, record: RequestRecord) -> None:
    """The outcome must be the type the record says, with the fields it should carry."""
    want, got = expected_outcome(record), _outcome_name(value)
    hint = {("Disconnected", "TimedOut"): TIMEOUT_FIRST, ("Malformed", "Truncated"): CUT_IS_NOT_MALFORMED,
            ("Malformed", "Refused"): REFUSAL, ("Extracted", "Refused"): REFUSAL,
            ("Extracted", "Malformed"): VALIDATE}.get((got, want))
    report.expect(got == want, f"returned {_shown(value)}; the world's record (status {record.status}, error "
                               f"{record.error}, faults {list(record.faults)}, stop_reason {record.stop_reason}) "
                               f"says {want}", hint=hint)
    if want == "Unavailable":
        status = getattr(value, "status", None)
        report.expect(status == record.status, f"Unavailable.status is {status!r}; the API answered {record.status}",
                      hint=OVERLOAD_IS_5XX)
    if want == "Truncated":
        partial = getattr(value, "partial", None)
        report.expect(isinstance(partial, str) and len(partial) > 0, f"Truncated.partial is {partial!r}; it should be "
                      "the text that arrived", hint=CUT_IS_NOT_MALFORMED)
    if want == "Extracted":
        paper = getattr(value, "paper", None)
        report.expect((getattr(paper, "title", None), getattr(paper, "year", None)) == ("Taming retry storms", 2021),
                      f"Extracted.paper is {_shown(paper)}; the reply said title 'Taming retry storms', year 2021")


def _world(seed: int, scenario: Scenario) -> World:
    """A fresh world for one case, bounded so that a runaway loop in the learner's code stops."""
    world = World(seed=seed, scenario=scenario)
    world.limits(max_attempts=50, max_seconds=3600.0)
    return world


@register("errors-as-types-call")
def _check_call(fn: Callable[..., Any], report: Report) -> None:
    _one_fault_case(report, fn, *_ONE_FAULT[0])  # first: a stub is "not attempted" before mypy spends a run on it

    with report.case("the type checker: every path returns an Extraction") as notes:
        report.outcome(lambda: None)  # refuses (the case fails at once) when the first case's call ran away
        from ..typecheck import type_errors  # here: every lesson's setup imports the checks, one lesson needs mypy

        try:
            errors = type_errors(fn)
        except (OSError, TypeError) as unreadable:  # inspect.getsource: a builtin, a C function, code with no file
            errors = [f"mypy cannot read its source ({unreadable}): define it with def in a cell"]
        notes.detail = "mypy: no errors" if not errors else f"mypy: {plural(len(errors), 'error')}"
        untyped = [e for e in errors if "annotation" in e]
        report.expect(not untyped, "; ".join(untyped), hint=ANNOTATE)
        returns = [e for e in errors if "return" in e.lower()]
        report.expect(not returns, "; ".join(returns), hint=NOT_AN_OUTCOME)
        report.expect(not errors, "; ".join(errors))

    for fault in _ONE_FAULT[1:]:
        _one_fault_case(report, fn, *fault)

    with report.case("a 429 comes back as RateLimited, with the retry-after seconds") as notes:
        world = _world(3, _calm_but(rate_limits=RateLimits(1, 1_000_000)))
        world.anthropic().messages.create(model="claude-fast", max_tokens=20,
                                          messages=[{"role": "user", "content": "ping"}])
        value, err = report.outcome(fn, world, _PAPER)
        report.expect(err is None, f"raised {type(err).__name__}: {str(err)[:100]}", hint=ESCAPED)
        report.expect(len(world.requests) == 2, f"made {plural(len(world.requests) - 1, 'request')}; one was expected")
        notes.detail = f"returned {_shown(value)}"
        _judge(report, value, world.requests[1])
        retry_after = getattr(value, "retry_after", "missing")
        report.expect(isinstance(retry_after, float) and retry_after > 0,
                      f"RateLimited.retry_after is {retry_after!r}", hint=RETRY_AFTER)

    for seed in (5, 8):
        with report.case(f"a day of mixed faults (seed {seed}): every outcome as the world recorded it") as notes:
            world = _world(seed, _MIXED_DAY)
            wrong, seen = [], set()
            for i in range(12):
                before = len(world.requests)
                text = _REFUSED if i % 7 == 6 else _PAPER
                value, err = report.outcome(fn, world, text, max_tokens=6 if i % 5 == 4 else 200)
                if len(world.requests) != before + 1:
                    wrong.append(f"call {i + 1} made {plural(len(world.requests) - before, 'request')}, not one")
                    continue
                want = expected_outcome(world.requests[before])
                seen.add(want)
                if err is not None or _outcome_name(value) != want:
                    wrong.append(f"{want} came back as {type(err).__name__ if err else _shown(value)}")
            notes.detail = f"{usage(world)}; outcomes: {', '.join(sorted(seen))}"
            report.expect(not wrong, f"{plural(len(wrong), 'call')} wrong: {'; '.join(wrong[:3])}")

    with report.case("configuration errors raise: a retired model (404), a bad request (400)"):
        for model, max_tokens, status in (("claude-legacy", 200, 404), ("claude-fast", 0, 400)):
            value, err = report.outcome(fn, _world(3, SCENARIOS["calm"]), _PAPER, model=model, max_tokens=max_tokens)
            raised = getattr(err, "status_code", None)
            done = f"raised {type(err).__name__}" if err else f"returned {_shown(value)}"
            report.expect(raised == status, f"{model} with max_tokens={max_tokens}: the API answered {status}, and "
                          f"the function {done}", hint=BUGS_RAISE)


def _one_fault_case(report: Report, fn: Callable[..., Any], name: str, want: str, scenario: Scenario,
                    kwargs: dict[str, Any]) -> None:
    with report.case(f"{name} comes back as {want}") as notes:
        value, record = _run_one(report, fn, _world(3, scenario), **kwargs)
        notes.detail = f"returned {_shown(value)}"
        _judge(report, value, record)


mistakes(
    "errors-as-types-call",
    Mistake("catches APIConnectionError before its subclass APITimeoutError",
            changes=(("    except anthropic.APITimeoutError:  # before APIConnectionError: it is a subclass\n"
                      "        return TimedOut()\n"
                      "    except anthropic.APIConnectionError:\n"
                      "        return Disconnected()\n",
                      "    except anthropic.APIConnectionError:\n"
                      "        return Disconnected()\n"
                      "    except anthropic.APITimeoutError:  # before APIConnectionError: it is a subclass\n"
                      "        return TimedOut()\n"),),
            hint=TIMEOUT_FIRST),
    Mistake("turns every status error into Unavailable, bugs included",
            changes=(("except anthropic.InternalServerError as err:", "except anthropic.APIStatusError as err:"),),
            hint=BUGS_RAISE),
    Mistake("lets the 429 escape as an exception",
            changes=(("    except anthropic.RateLimitError as err:\n"
                      "        seconds = err.response.headers.get(\"retry-after\")\n"
                      "        return RateLimited(float(seconds) if seconds is not None else None)\n", ""),),
            hint=ESCAPED),
    Mistake("parses before reading stop_reason, so a cut reply is Malformed",
            changes=(("    if message.stop_reason == \"max_tokens\":\n        return Truncated(said)\n", ""),),
            hint=CUT_IS_NOT_MALFORMED),
    Mistake("ignores a refusal",
            changes=(("    if message.stop_reason == \"refusal\":\n        return Refused(said)\n", ""),),
            hint=REFUSAL),
    Mistake("trusts the JSON without validating it",
            changes=(("    try:\n        return Extracted(Paper.model_validate_json(said))\n"
                      "    except pydantic.ValidationError as err:\n"
                      "        return Malformed(said, str(err).splitlines()[0])",
                      "    return Extracted(Paper.model_validate_json(said))"),),
            hint=VALIDATE),
    Mistake("returns a string for a failure (the type checker's catch)",
            changes=(("        return TimedOut()", "        return \"timed out\""),),
            hint=NOT_AN_OUTCOME),
    Mistake("falls off the end of the function when validation fails (the type checker's catch)",
            changes=(("        return Malformed(said, str(err).splitlines()[0])",
                      "        print(\"could not parse:\", err)"),),
            hint=NOT_AN_OUTCOME),
    Mistake("leaves the function unannotated, so mypy checks nothing",
            changes=(("def extract_with_claude(world: World, text: str, *, model: str = \"claude-fast\", "
                      "max_tokens: int = 200,\n                        timeout: float = 30.0) -> Extraction:",
                      "def extract_with_claude(world, text, *, model=\"claude-fast\", max_tokens=200,\n"
                      "                        timeout=30.0):"),),
            hint=ANNOTATE),
    Mistake("keeps the header as a string",
            changes=(("return RateLimited(float(seconds) if seconds is not None else None)",
                      "return RateLimited(seconds)"),),
            hint=RETRY_AFTER),
    Mistake("hard-codes the status of Unavailable",
            changes=(("return Unavailable(err.status_code)", "return Unavailable(503)"),),
            hint=OVERLOAD_IS_5XX),
    Mistake("lets the SDK retry, so one call makes several requests",
            changes=(("world.anthropic(timeout=timeout)", "world.anthropic(timeout=timeout, max_retries=2)"),),
            hint=ONE_REQUEST),
)

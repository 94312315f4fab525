"""The check of the lesson "Structured output and validation" (book/tier3/structured-output.md).

The learner's `extract_invoice(world, text, *, max_attempts, token_budget, deadline_s)` asks for an invoice
as strict JSON, checks its meaning against the text, repairs a rejected reply and gives up honestly. The
world labels every wrong reply it injects (`wrong_meaning:<kind>@<field>` in `record.faults`), so the
check scores the function against ground truth: a labelled reply returned is a miss, an unlabelled reply
not returned is a false alarm. Its result types (`Extracted`, `GaveUp`) live in the lesson's setup cell,
so they are judged by name and fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..faults import labels
from ..model.request import ModelRequest
from ..service.scenarios import SCENARIOS, Scenario
from ..text import plural
from ..world import World
from ._framework import Mistake, Report, mistakes, register

CATCH = ("a reply whose meaning is wrong came back as Extracted: validate message.content with CheckedInvoice "
         "(not only the schema) before you accept it")
FALSE_ALARM = ("a right reply was rejected: validate with CheckedInvoice.model_validate_json(message.content, "
               "context={'source': text}), so its validators can read the text")
FEED_BACK = ("the repair prompt does not say what was wrong: put the validator's messages, each with its field, "
             "into the next prompt")
RESTATE = "the repair prompt must carry the invoice text again, so the model answers from the source"
REFUSAL = "a refusal will refuse again: return GaveUp('refused', ...) at once, without another attempt"
HONEST = "when every attempt was rejected, return GaveUp('invalid', ...), never a reply that failed validation"
ATTEMPTS = "max_attempts counts every request, the first included: stop after max_attempts attempts"
TOKENS = ("count each attempt's usage.total_tokens, start no attempt once token_budget is spent, and give an "
          "attempt max_completion_tokens of only what is left")
CUT = "a reply cut at the tokens left raises openai.LengthFinishReasonError: catch it and return GaveUp('budget', ...)"
DEADLINE = ("give each attempt timeout= the seconds left before deadline_s, and return GaveUp('budget', ...) on "
            "openai.APITimeoutError")

_STATUSES = ("paid", "unpaid", "overdue")
_GENEROUS: dict[str, Any] = {"max_attempts": 3, "token_budget": 5_000, "deadline_s": 60.0}


def _invoice(i: int) -> tuple[str, dict[str, Any]]:
    """An invoice unlike the lesson's (another supplier, other amounts), and the fields it states."""
    amounts = (40 + 3 * i + 0.1 * (1 + i % 9), 12 + i % 5 + 0.3, 7.2)
    fields = {"invoice_id": f"PO-{512 + 7 * i}", "date": f"2025-{1 + i % 12:02d}-{11 + i % 17}",
              "status": _STATUSES[(i + 1) % 3], "total": round(sum(amounts), 2)}
    text = (f"Read this supplier invoice. Invoice {fields['invoice_id']} from Borealis Tools, dated {fields['date']}. "
            f"Drills cost {amounts[0]:.2f}. Blades cost {amounts[1]:.2f}. Delivery was {amounts[2]:.2f}. "
            f"The invoice is {fields['status']}.")
    return text, fields


def _world(seed: int, scenario: Scenario | str, responder: Callable[[ModelRequest], None] | None = None) -> World:
    world = World(seed=seed, scenario=scenario, responder=responder)
    world.limits(max_attempts=40, max_seconds=600.0)
    return world


def _always(**rates: float) -> Scenario:
    """A calm scenario in which every structured reply meets the given kinds."""
    return dataclasses.replace(SCENARIOS["calm"], name="always", rates=rates)


def _kind(value: Any) -> str:
    return type(value).__name__


def _shown(value: Any) -> str:
    if _kind(value) == "GaveUp":
        return f"GaveUp({getattr(value, 'reason', '?')!r}, attempts={getattr(value, 'attempts', '?')})"
    if _kind(value) == "Extracted":
        return f"Extracted(attempts={getattr(value, 'attempts', '?')})"
    return f"{_kind(value)} {str(value)[:60]}"


def _wrong(record_faults: tuple[str, ...]) -> list[labels.Label]:
    return [label for label in map(labels.parse_label, record_faults) if label.name == labels.WRONG_MEANING]


def _call(report: Report, fn: Callable[..., Any], world: World, text: str, **kwargs: Any) -> tuple[Any, int]:
    """The function's result on `text`, and how many requests it made."""
    before = len(world.requests)
    value = report.call(fn, world, text, **{**_GENEROUS, **kwargs})
    return value, len(world.requests) - before


@register("structured-output-repair")
def _check(fn: Callable[..., Any], report: Report) -> None:
    with report.case("clean invoices: the text's invoice, on the first attempt") as notes:
        world = _world(2, "calm")
        for i in range(3):
            text, fields = _invoice(i)
            value, made = _call(report, fn, world, text)
            report.expect(_kind(value) == "Extracted", f"a right reply came back as {_shown(value)}", hint=FALSE_ALARM)
            got = value.invoice
            said = {"invoice_id": got.invoice_id, "date": got.date, "status": got.status, "total": got.total}
            report.expect(said == fields, f"returned {said}; the text says {fields}")
            report.expect(made == 1 == value.attempts, f"{plural(made, 'request')} and attempts={value.attempts} "
                          "for a reply that was right the first time", hint=FALSE_ALARM)
        notes.detail = plural(len(world.requests), "attempt")

    for seed in (12, 15):  # seeds whose eight invoices meet wrong replies of several kinds and a refusal
        with report.case(f"the sloppy-json world (seed {seed}): every wrong reply caught, no right one rejected") \
                as notes:
            _score_sloppy(report, fn, seed, notes)

    with report.case("a rejected reply is repaired: the next prompt has the text and what was wrong"):
        prompts: list[str] = []
        world = _world(4, _always(wrong_meaning=1.0), lambda request: prompts.append(request.user))
        text, _ = _invoice(5)
        _call(report, fn, world, text, max_attempts=2)
        report.expect(len(prompts) == 2, f"made {plural(len(prompts), 'request')} with max_attempts=2", hint=ATTEMPTS)
        report.expect(text in prompts[1], "the second prompt does not contain the invoice text", hint=RESTATE)
        (label,) = _wrong(world.requests[0].faults)
        report.expect(prompts[1] != prompts[0] and (label.field or "") in prompts[1].replace(text, ""),
                      f"the first reply's {label.field} was wrong, and the second prompt does not name it",
                      hint=FEED_BACK)

    with report.case("every reply wrong: GaveUp('invalid') after max_attempts") as notes:
        world = _world(5, _always(wrong_meaning=1.0))
        value, made = _call(report, fn, world, _invoice(6)[0])
        notes.detail = f"returned {_shown(value)} after {plural(made, 'request')}"
        report.expect(_kind(value) == "GaveUp", f"returned {_shown(value)} although no reply was valid", hint=HONEST)
        report.expect(made == 3, f"made {plural(made, 'request')} with max_attempts=3", hint=ATTEMPTS)
        report.expect(value.reason == "invalid" and value.attempts == 3 and len(value.problems) >= 3,
                      f"GaveUp({value.reason!r}, attempts={value.attempts}, {plural(len(value.problems), 'problem')})"
                      "; expected 'invalid', 3 attempts and the validator's problems")

    with report.case("a refusal: GaveUp('refused') after one attempt") as notes:
        world = _world(6, _always(refusal=1.0))
        value, made = _call(report, fn, world, _invoice(7)[0])
        notes.detail = f"returned {_shown(value)} after {plural(made, 'request')}"
        report.expect(made == 1 and _kind(value) == "GaveUp" and value.reason == "refused",
                      f"returned {_shown(value)} after {plural(made, 'request')}", hint=REFUSAL)

    with report.case("a token budget of 450: no attempt beyond it, and GaveUp('budget')") as notes:
        world = _world(7, _always(wrong_meaning=1.0))
        value, err = report.outcome(fn, world, _invoice(8)[0], max_attempts=3, token_budget=450, deadline_s=60.0)
        notes.detail = f"{plural(len(world.requests), 'attempt')}, " + \
            ", ".join(f"{r.input_tokens}+{r.output_tokens} tokens" for r in world.requests)
        report.expect(err is None, f"raised {type(err).__name__}", hint=CUT)
        spent = 0
        for n, record in enumerate(world.requests, start=1):
            report.expect(spent < 450 and record.output_tokens <= 450 - spent,
                          f"attempt {n} began with {spent} of 450 tokens spent and used {record.output_tokens} more "
                          "for its reply", hint=TOKENS)
            spent += record.input_tokens + record.output_tokens
        report.expect(_kind(value) == "GaveUp" and value.reason == "budget", f"returned {_shown(value)}")

    with report.case("a deadline of 2.5 s: done by then, and GaveUp('budget')") as notes:
        world = _world(9, _always(wrong_meaning=1.0))
        value, made = _call(report, fn, world, _invoice(9)[0], deadline_s=2.5)
        notes.detail = f"returned {_shown(value)} at {world.clock.now():.2f} s"
        report.expect(world.clock.now() <= 2.5 + 1e-6, f"the call ended at {world.clock.now():.2f} s", hint=DEADLINE)
        report.expect(_kind(value) == "GaveUp" and value.reason == "budget", f"returned {_shown(value)}")


def _score_sloppy(report: Report, fn: Callable[..., Any], seed: int, notes: Any) -> None:
    """Eight invoices in the sloppy-json world, each attempt scored against its labels."""
    world = _world(seed, "sloppy-json")
    caught = wrong = false_alarms = right = 0
    for i in range(8):
        text, _ = _invoice(10 * seed + i)
        before = len(world.requests)
        value, made = _call(report, fn, world, text)
        report.expect(made <= 3, f"made {plural(made, 'request')} with max_attempts=3", hint=ATTEMPTS)
        records = world.requests[before:]
        for n, record in enumerate(records, start=1):
            returned = n == len(records) and _kind(value) == "Extracted"
            if _wrong(record.faults):
                wrong += 1
                caught += not returned
                report.expect(not returned, f"returned a reply labelled {', '.join(record.faults)}", hint=CATCH)
            elif labels.REFUSAL in record.faults:
                report.expect(n == len(records) and getattr(value, "reason", None) == "refused",
                              f"a refusal came back as {_shown(value)} after {plural(len(records), 'request')}",
                              hint=REFUSAL)
            else:
                right += 1
                false_alarms += not returned
                report.expect(returned, f"a right reply was rejected (attempt {n} of {len(records)}, then "
                              f"{_shown(value)})", hint=FALSE_ALARM)
    notes.detail = (f"caught {caught} of {plural(wrong, 'wrong reply', 'wrong replies')}, {false_alarms} false "
                    f"alarms in {plural(right, 'right reply', 'right replies')}, "
                    f"{plural(len(world.requests), 'attempt')}")


mistakes(
    "structured-output-repair",
    Mistake("validates the schema only",
            changes=(("CheckedInvoice.model_validate_json(", "Invoice.model_validate_json("),),
            hint=CATCH),
    Mistake("validates without the source as context",
            changes=((", context={\"source\": text})", ")"),),
            hint=FALSE_ALARM),
    Mistake("repeats the same prompt",
            changes=(("            prompt = f\"{text}\\n\\nA previous answer was rejected: {'; '.join(found)}. "
                      "Answer again from the text above.\"\n", ""),),
            hint=FEED_BACK),
    Mistake("sends only the errors, not the text",
            changes=(("prompt = f\"{text}\\n\\nA previous answer", "prompt = f\"A previous answer"),),
            hint=RESTATE),
    Mistake("retries a refusal",
            changes=(("            return GaveUp(\"refused\", attempt, (*problems, message.refusal))",
                      "            continue"),),
            hint=REFUSAL),
    Mistake("returns the last rejected reply when the attempts run out",
            changes=(("    return GaveUp(\"invalid\", max_attempts, tuple(problems))",
                      "    return Extracted(Invoice.model_validate_json(message.content), max_attempts)"),),
            hint=HONEST),
    Mistake("counts retries, not attempts",
            changes=(("for attempt in range(1, max_attempts + 1):", "for attempt in range(max_attempts + 1):"),),
            hint=ATTEMPTS),
    Mistake("does not count the tokens spent",
            changes=(("        spent += completion.usage.total_tokens\n", ""),),
            hint=TOKENS),
    Mistake("gives every attempt the whole token budget",
            changes=(("max_completion_tokens=token_budget - spent", "max_completion_tokens=token_budget"),),
            hint=TOKENS),
    Mistake("lets a cut reply escape",
            changes=(("        except openai.LengthFinishReasonError:\n"
                      "            return GaveUp(\"budget\", attempt, (*problems, "
                      "\"the reply was cut at the tokens left\"))\n",
                      ""),),
            hint=CUT),
    Mistake("gives an attempt no timeout",
            changes=((", timeout=seconds_left)", ")"),),
            hint=DEADLINE),
)

"""The structured-output faults, through the real SDKs: wrong meaning, schema violations, refusals, truncation.

In the "sloppy-json" scenario every kind strikes at about its rate and says in `record.faults` what it did;
a labelled field is really wrong against the prompt and an unlabelled reply is right, so a lesson can score
a validator against the labels. Strict schemas are never violated; a refusal reaches `parse()` as
`message.refusal` with nothing parsed; a reply cut at `max_tokens` makes `parse()` raise.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import anthropic
import openai
import pytest
from pydantic import BaseModel, ValidationError

from faultfirst import SCENARIOS, RateLimits, Scenario, World
from faultfirst.faults import labels
from faultfirst.faults.labels import Label, parse_label
from tests.conftest import ask

STATUSES = ("paid", "unpaid", "overdue")


class Item(BaseModel):
    name: str
    amount: float


class Invoice(BaseModel):
    invoice_id: str
    date: str
    status: Literal["paid", "unpaid", "overdue"]
    items: list[Item]
    total: float


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_id": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "amount": {"type": "number"}},
            "required": ["name", "amount"], "additionalProperties": False}},
        "total": {"type": "number"},
    },
    "required": ["invoice_id", "date", "status", "items", "total"],
    "additionalProperties": False,
}


def _invoice(i: int) -> tuple[str, str]:
    """An invoice's text (a different id, date, status and amounts for each i) and its true status."""
    status = STATUSES[i % 3]
    text = (f"Extract the invoice. Invoice INV-{3000 + i} from ACME Corp, dated 2026-{1 + i % 9:02d}-{10 + i % 18}. "
            f"Widgets cost {100 + i}.50. Bolts cost {20 + i % 7}.25. Shipping was {5 + i % 4}. "
            f"The invoice is {status}.")
    return text, status


def _wrong(label: Label, reply: dict[str, Any], prompt: str, status: str) -> bool:
    """Whether the field `label` names is wrong in the way it says."""
    value = reply[label.field or ""]
    return {
        labels.DATE_NOT_IN_SOURCE: lambda: value not in prompt,
        labels.ID_NOT_IN_INPUT: lambda: value not in prompt,
        labels.TOTAL_MISMATCH: lambda: round(value, 2) != round(sum(i["amount"] for i in reply["items"]), 2),
        labels.ENUM_MISMATCH: lambda: value in STATUSES and value != status,
    }[label.detail or ""]()


def _right(reply: dict[str, Any], prompt: str, status: str) -> bool:
    """Whether every field a wrong_meaning could spoil says what the prompt says."""
    return (reply["invoice_id"] in prompt and reply["date"] in prompt and reply["status"] == status
            and round(reply["total"], 2) == round(sum(i["amount"] for i in reply["items"]), 2))


def test_sloppy_json_is_the_lessons_scenario_and_no_other_scenario_rates_the_new_kinds():
    assert dict(SCENARIOS["sloppy-json"].rates) == {"wrong_meaning": 0.20, "schema_violation": 0.15, "refusal": 0.05}
    assert all(not s.rates for name, s in SCENARIOS.items() if name not in ("sloppy-json", "citations"))


def test_strict_parse_meets_wrong_meaning_and_refusals_at_their_rates_and_never_a_schema_violation():
    """openai parse() with a pydantic model (a strict schema): each label names a field that is really wrong,
    each unlabelled reply is right, a refusal has nothing parsed, and no reply violates the schema."""
    world = World(seed=11, scenario="sloppy-json")
    client = world.openai(max_retries=0)
    calls, kinds, refused = 160, set(), 0
    for i in range(calls):
        prompt, status = _invoice(i)
        message = client.chat.completions.parse(model="gpt-fast", messages=ask(prompt),
                                                response_format=Invoice).choices[0].message
        faults = world.requests[-1].faults
        assert labels.SCHEMA_VIOLATION not in faults and labels.MALFORMED_JSON not in faults
        if labels.REFUSAL in faults:
            refused += 1
            assert faults == (labels.REFUSAL,)
            assert message.parsed is None and message.content is None and message.refusal
            continue
        assert message.parsed is not None and message.refusal is None
        reply = json.loads(message.content or "")
        semantic = [parse_label(f) for f in faults]
        assert all(f.name == labels.WRONG_MEANING for f in semantic)
        if semantic:
            (label,) = semantic
            kinds.add(label.detail)
            assert _wrong(label, reply, prompt, status), (label, reply, prompt)
            others = {k: v for k, v in reply.items() if k != label.field}
            if label.detail != labels.TOTAL_MISMATCH and label.field != "items":
                assert round(others["total"], 2) == round(sum(i["amount"] for i in reply["items"]), 2)
        else:
            assert _right(reply, prompt, status), (reply, prompt)
    struck = sum(1 for r in world.requests if any(f.startswith("wrong_meaning:") for f in r.faults))
    assert 15 <= struck <= 50, struck  # about 20% of the 150-odd replies not refused
    assert 2 <= refused <= 18, refused  # about 5% of 160
    assert kinds == {labels.DATE_NOT_IN_SOURCE, labels.ID_NOT_IN_INPUT, labels.TOTAL_MISMATCH, labels.ENUM_MISMATCH}


def test_non_strict_json_is_violated_at_its_rate_and_only_the_labelled_replies_fail_validation():
    """JSON mode (the schema in the system prompt) and a forced Anthropic tool without `strict`: about 15% of
    replies miss a required field or mistype one, labelled "schema_violation"; every other reply validates."""
    world = World(seed=4, scenario="sloppy-json")
    gpt, claude = world.openai(max_retries=0), world.anthropic(max_retries=0)
    system = f"Reply with JSON matching this schema: {json.dumps(SCHEMA)}"
    violated = 0
    for i in range(120):
        prompt, _ = _invoice(i)
        if i % 2:
            message = gpt.chat.completions.create(
                model="gpt-fast", response_format={"type": "json_object"},
                messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}])
            text = message.choices[0].message.content
        else:
            reply = claude.messages.create(model="claude-fast", max_tokens=600, messages=ask(prompt),
                                           tools=[{"name": "record_invoice", "input_schema": SCHEMA}],
                                           tool_choice={"type": "tool", "name": "record_invoice"})
            text = json.dumps(reply.content[0].input) if reply.content[0].type == "tool_use" else None
        faults = world.requests[-1].faults
        if labels.REFUSAL in faults:
            continue
        assert text is not None
        if labels.SCHEMA_VIOLATION in faults:
            violated += 1
            with pytest.raises(ValidationError):
                Invoice.model_validate_json(text)
        else:
            Invoice.model_validate_json(text)
    assert 8 <= violated <= 32, violated  # about 15% of 120


def test_strict_outputs_and_strict_tools_are_never_violated():
    """At a schema_violation rate of 1: OpenAI's strict json_schema and strict function tool, Anthropic's
    output_config and strict tool all fit their schema, unlabelled; the same requests without strict do not."""
    world = World(seed=2, scenario=Scenario("violations", "every non-strict reply off-schema",
                                            RateLimits(10_000, 50_000_000), rates={"schema_violation": 1.0}))
    gpt, claude = world.openai(max_retries=0), world.anthropic(max_retries=0)
    prompt, _ = _invoice(1)
    texts: dict[tuple[str, bool], str | None] = {}
    for strict in (True, False):
        texts["openai format", strict] = gpt.chat.completions.create(
            model="gpt-fast", messages=ask(prompt), response_format={
                "type": "json_schema", "json_schema": {"name": "invoice", "schema": SCHEMA, "strict": strict}},
        ).choices[0].message.content
        call = gpt.chat.completions.create(
            model="gpt-fast", messages=ask(prompt), tool_choice="required",
            tools=[{"type": "function",
                    "function": {"name": "record_invoice", "parameters": SCHEMA, "strict": strict}}],
        ).choices[0].message.tool_calls
        assert call is not None and call[0].type == "function"
        texts["openai tool", strict] = call[0].function.arguments
        block = claude.messages.create(model="claude-fast", max_tokens=600, messages=ask(prompt),
                                       tools=[{"name": "record_invoice", "input_schema": SCHEMA, "strict": strict}],
                                       tool_choice={"type": "tool", "name": "record_invoice"}).content[0]
        assert block.type == "tool_use"
        texts["anthropic tool", strict] = json.dumps(block.input)
    structured = claude.messages.create(model="claude-fast", max_tokens=600, messages=ask(prompt),
                                        output_config={"format": {"type": "json_schema", "schema": SCHEMA}}).content[0]
    assert structured.type == "text"
    texts["anthropic output_config", True] = structured.text
    faults = [r.faults for r in world.requests]
    assert faults == [(), (), (), ("schema_violation",), ("schema_violation",), ("schema_violation",), ()]
    for (_, strict), text in texts.items():
        if strict:
            Invoice.model_validate_json(text or "")
        else:
            with pytest.raises(ValidationError):
                Invoice.model_validate_json(text or "")


def _refusing_world() -> World:
    return World(seed=3, scenario=Scenario("no", "every structured request refused", RateLimits(10_000, 50_000_000),
                                           rates={"refusal": 1.0}))


def test_openai_parse_gives_the_refusal_and_nothing_parsed():
    """openai: a refused structured request has `message.refusal` set, `content` None, finish_reason "stop", and
    parse() (openai/lib/_parsing/_completions.py parses only `message.content and not message.refusal`) returns
    `parsed` None without raising; the Responses API sends a `refusal` content part, streamed as refusal
    deltas."""
    world = _refusing_world()
    client = world.openai(max_retries=0)
    prompt, _ = _invoice(0)
    choice = client.chat.completions.parse(model="gpt-fast", messages=ask(prompt), response_format=Invoice).choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.parsed is None and choice.message.content is None
    assert isinstance(choice.message.refusal, str) and "can't" in choice.message.refusal
    streamed = client.chat.completions.create(model="gpt-fast", messages=ask(prompt), stream=True,
                                              response_format={"type": "json_schema", "json_schema": {
                                                  "name": "invoice", "schema": SCHEMA, "strict": True}})
    deltas = [c.choices[0].delta for c in streamed if c.choices]
    assert "can't" in "".join(d.refusal or "" for d in deltas)  # streamed as refusal deltas
    assert not "".join(d.content or "" for d in deltas)
    response = client.responses.parse(model="gpt-fast", input=prompt, text_format=Invoice)
    assert response.output_parsed is None
    item = response.output[0]
    assert item.type == "message" and item.content[0].type == "refusal"
    with client.responses.stream(model="gpt-fast", input=prompt, text_format=Invoice) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.refusal.delta" in kinds and "response.output_text.delta" not in kinds
    assert final.output_parsed is None
    assert [r.faults for r in world.requests] == [("refusal",)] * 4
    plain = client.chat.completions.create(model="gpt-fast", messages=ask("Explain retries.")).choices[0].message
    assert plain.refusal is None and plain.content  # prose is never refused by this kind
    assert world.requests[-1].faults == ()


def test_anthropic_refusal_ends_the_message_with_stop_reason_refusal():
    """anthropic: a refused forced tool or JSON-schema output ends with stop_reason "refusal" and a text block."""
    world = _refusing_world()
    client = world.anthropic(max_retries=0)
    prompt, _ = _invoice(0)
    for extra in ({"tools": [{"name": "record_invoice", "input_schema": SCHEMA}],
                   "tool_choice": {"type": "tool", "name": "record_invoice"}},
                  {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}}):
        message = client.messages.create(model="claude-fast", max_tokens=600, messages=ask(prompt), **extra)
        assert message.stop_reason == "refusal"
        assert [b.type for b in message.content] == ["text"]
    assert [r.faults for r in world.requests] == [("refusal",)] * 2


def test_openai_parse_raises_length_finish_reason_error_on_a_truncated_reply():
    """openai: parse() raises LengthFinishReasonError when the reply was cut at max_tokens (finish_reason
    "length"); the world labels the attempt "truncated"."""
    world = World(seed=0)
    prompt, _ = _invoice(0)
    with pytest.raises(openai.LengthFinishReasonError) as err:
        world.openai(max_retries=0).chat.completions.parse(model="gpt-fast", messages=ask(prompt),
                                                           response_format=Invoice, max_tokens=8)
    assert err.value.completion.choices[0].finish_reason == "length"
    assert world.requests[-1].faults == ("truncated",)


def test_wrong_meaning_spoils_tool_call_arguments_and_forced_tool_input_too():
    """At rate 1, an OpenAI function call's arguments and an Anthropic forced tool's input carry the wrong
    field the label names."""
    world = World(seed=8, scenario=Scenario("wrong", "every reply wrong", RateLimits(10_000, 50_000_000),
                                            rates={"wrong_meaning": 1.0}))
    prompt, status = _invoice(5)
    calls = world.openai(max_retries=0).chat.completions.create(
        model="gpt-fast", messages=ask(prompt), tool_choice="required",
        tools=[{"type": "function", "function": {"name": "record_invoice", "parameters": SCHEMA, "strict": True}}],
    ).choices[0].message.tool_calls
    assert calls is not None and calls[0].type == "function"
    block = world.anthropic(max_retries=0).messages.create(
        model="claude-fast", max_tokens=600, messages=ask(prompt),
        tools=[{"name": "record_invoice", "input_schema": SCHEMA}],
        tool_choice={"type": "tool", "name": "record_invoice"}).content[0]
    assert isinstance(block, anthropic.types.ToolUseBlock)
    for reply, record in zip((json.loads(calls[0].function.arguments), block.input), world.requests, strict=True):
        (label,) = map(parse_label, record.faults)
        assert label.name == "wrong_meaning" and _wrong(label, dict(reply), prompt, status), (label, reply)


def test_a_reply_with_nothing_to_get_wrong_is_not_struck():
    """wrong_meaning strikes only where one of its kinds applies: a schema of a title and a year has no date,
    id, total or enum, so at rate 1 the reply is the world's own and carries no label."""
    schema = {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
              "required": ["title", "year"], "additionalProperties": False}
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "paper", "schema": schema, "strict": True}}
    question = ask("Extract the title and year: 'Taming retry storms' (2021).")
    spoiled = World(seed=8, scenario=Scenario("wrong", "", RateLimits(10_000, 50_000_000),
                                              rates={"wrong_meaning": 1.0}))
    calm = World(seed=8)
    texts = [w.openai().chat.completions.create(model="gpt-fast", messages=question, response_format=fmt)
             .choices[0].message.content for w in (spoiled, calm)]
    assert texts[0] == texts[1] and json.loads(texts[0] or "")["year"] == 2021
    assert spoiled.requests[-1].faults == ()


def test_labels_grammar():
    """"<name>:<detail>@<field>" for a semantic fault, the bare name for every other; parse_label splits both."""
    made = labels.semantic("wrong_meaning", labels.TOTAL_MISMATCH, "total")
    assert made == "wrong_meaning:total_mismatch@total"
    assert parse_label(made) == Label("wrong_meaning", "total_mismatch", "total")
    assert parse_label("wrong_meaning:id_not_in_input@customer@id") == Label("wrong_meaning", "id_not_in_input",
                                                                            "customer@id")
    for plain in ("rate_limit", "overload", "schema_violation", "refusal", "truncated"):
        assert parse_label(plain) == Label(plain, None, None)


def test_the_world_fills_dates_ids_and_totals_from_the_text_and_keeps_a_schema_it_cannot_fill_from_it():
    """Unspoiled, a date field takes the text's ISO date, an id field its identifier, line items its amounts in
    turn and the total their sum; with no date in the text the format's example stays, and an integer total
    beside fractional amounts keeps its integer type (the schema comes first)."""
    client = World(seed=0).openai()
    prompt, _ = _invoice(2)
    invoice = Invoice.model_validate_json(client.chat.completions.create(
        model="gpt-fast", messages=ask(prompt),
        response_format={"type": "json_schema", "json_schema": {"name": "invoice", "schema": SCHEMA, "strict": True}},
    ).choices[0].message.content or "")
    assert (invoice.invoice_id, invoice.date) == ("INV-3002", "2026-03-12")
    assert [item.amount for item in invoice.items][:2] == [102.5, 22.25]
    assert invoice.total == round(sum(item.amount for item in invoice.items), 2)
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "total": {"type": "integer"}}}
    undated = json.loads(client.chat.completions.create(
        model="gpt-fast", messages=ask(prompt.replace("dated 2026-03-12", "undated")),
        response_format={"type": "json_schema", "json_schema": {"name": "invoice", "schema": schema, "strict": True}},
    ).choices[0].message.content or "")
    assert undated["date"] == "2024-05-01" and isinstance(undated["total"], int)

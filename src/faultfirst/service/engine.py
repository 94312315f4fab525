"""The simulated API: decides, for each attempt, what happens and when.

`SimulatedAPI.plan` reads one HTTP request at the virtual moment it arrives
and returns an `Outcome`: a status, headers and body (or timed stream events),
the virtual delay before they arrive, or a transport failure to raise. It
waits for nothing itself; the transports in `transports/simulated.py` spend the delay in
virtual time, synchronously or under asyncio. Keeping the decision separate
from the waiting is what lets one engine serve both SDK flavours.

Checks run in the order a real API applies them: route, model, request
validation (including the context window), outage, connection reset, rate
limits, overload; then the model's reply, truncated at `max_tokens`, possibly
corrupted in `flaky-output`, timed by the latency model, and cut short by the
client's read timeout.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any

import httpx2

from ..clock.limits import Limits
from ..faults import labels as label
from ..faults import registry
from ..faults.dice import FaultDice, Roll
from ..faults.kind import QuoteFault, Refusal, RefusalFault, ReplyFault, ScenarioView, Stage, Structured
from ..model.catalog import RETIRED, Catalog, ModelSpec
from ..model.known_attacks import demanded_arguments
from ..model.prompt import Block, Cited, Reply
from ..model.prompt_view import resisted_results
from ..model.responders import Responders, Turn, tempted
from ..model.tokens import count_pieces, count_tokens, truncate_to_tokens
from ..model.tool_replies import call_tools, relay_results
from ..wire.dialects import DIALECTS, GENERATING_ROUTES, Dialect, Generation, parse_request
from ..wire.framing import EPOCH, Answer, dumps, error_name
from ..wire.parse import InvalidRequest, ParsedRequest, decode_body
from .attempts import AttemptHooks
from .batch_files import BATCH_DISCOUNT
from .batches import BatchService
from .latency import LatencyModel, Timing
from .outcome import Outcome, StreamEvent
from .rate_limits import Admission, ModelLimiter
from .records import RequestRecord
from .scenarios import Scenario
from .spend import SpendLedger

# A live stream's length is not known when it starts; an injected break lands after 10 to 30 of its events.
_LIVE_STREAM_EVENTS = 40


@dataclass(frozen=True)
class LiveFaults:
    """What live mode injects into one attempt: an answer given locally, or a stream cut short, or nothing."""

    before: Outcome | None = None
    cut_after: int | None = None  # events of the real stream passed on before the injected error event
    error_event: bytes = b""


class SimulatedAPI:
    """One world's API: its scenario, limits, random streams and request log."""

    def __init__(self, *, seed: int, scenario: Scenario, catalog: Catalog, log: list[RequestRecord],
                 responders: Responders, spend: SpendLedger | None = None) -> None:
        self.scenario = scenario
        self.spend = spend  # told when a batch's items are billed, so its hold on the spend cap goes
        self.catalog = catalog
        self.latency = LatencyModel(seed, drift=scenario.drift, correlated_tail=scenario.correlated_tail)
        self._log = log
        self.responders = responders  # what decides each reply's text (World.script_reply extends it)
        kinds = registry.kinds()  # the kinds registered now, for this world's whole life
        registry.check_rates(scenario.rates, kinds)
        self._dice = FaultDice(seed, kinds)  # each kind's own stream: one die per attempt (faults/dice.py)
        # Whether an injected instruction wins is the model's decision (model/obedience.py), with a die of its own
        # drawn on every attempt beside the fault kinds' (their naming, not a kind: no scenario rate, no stage).
        self._injections = random.Random(f"{seed}:fault:injection")
        self._sampling = random.Random(f"{seed}:sampling")
        self._seed = seed
        self._choice_rng: random.Random | None = None  # drawn from only by requests for n > 1 choices
        self._choice_dice: FaultDice | None = None  # their fault dice, likewise
        self._tools_rng: random.Random | None = None  # drawn from only by replies that call tools
        self._memory_rngs: dict[str, random.Random] = {}  # drawn from only by corpus questions missing their sources
        self._limiters: dict[str, ModelLimiter] = {}
        self._serial = 0
        self.limits: Limits | None = None  # set by checks to stop runaway learner code
        self.hooks = AttemptHooks()  # world.on_attempt: what checks and tests watch or script attempts through
        self.batches = BatchService(self, seed)

    # -- the decision -------------------------------------------------------------------------------

    def plan(self, provider: str, request: httpx2.Request, now: float) -> Outcome:
        """Decide one attempt, between the world's attempt hooks if it has any (`World.on_attempt`)."""
        if self.hooks:
            return self.hooks.around(provider, request, now, self._decide)
        return self._decide(provider, request, now)

    def _decide(self, provider: str, request: httpx2.Request, now: float) -> Outcome:
        self._serial += 1
        rid = f"sim{self._serial:08x}"
        dialect = DIALECTS[provider]
        method, path = request.method, request.url.path  # url.path decodes the URL on every read: read it once
        endpoint = dialect.endpoint(method, path)
        record = RequestRecord(provider, "", endpoint or path, now)
        self._log.append(record)
        if self.limits is not None:
            self.limits.check_attempts(len(self._log))
        if endpoint is None and self.batches.handles(provider, path):
            return self.batches.serve(provider, request, record, rid, now)
        if method == "GET" and path == "/v1/models":
            record.endpoint = "models"
            return self.answer_json(record, dialect.model_list(self.catalog.for_provider(provider)), rid, 0.05)
        if endpoint is None:
            return self.answer_json(record, dialect.not_found(method, path, rid), rid, 0.05, status=404)
        content = request.content or b"{}"
        body = decode_body(content)
        if body is None:
            return self.answer_invalid(provider, record, rid,
                                       InvalidRequest("The request body is not a JSON object.", None))
        model = body.get("model")
        record.stream = bool(body.get("stream"))
        spec = self.catalog.resolve(model)  # an alias, or the real id live mode would send for it
        if spec is None or spec.provider != provider:
            record.model = str(body.get("model", ""))
            return self._unknown_model(provider, record, rid, model)
        record.model = spec.name
        try:
            parsed = parse_request(endpoint, spec, content)
            record.input_tokens = parsed.input_tokens
            if endpoint not in dialect.generating.values():
                return self.answer_json(record, dialect.token_count(endpoint, parsed.input_tokens), rid,
                                        self._quick(spec, now))
            dialect.check_limits(spec, parsed)
        except InvalidRequest as err:
            return self.answer_invalid(provider, record, rid, err)
        if parsed.stream and parsed.n > 1:
            return self.answer_invalid(provider, record, rid, InvalidRequest(
                "The simulated world does not stream several choices; stream with n=1, or drop stream=True "
                "to get all n choices at once.", "n"))
        return self._serve(dialect, endpoint, spec, parsed, body, record, rid, now, request)

    def _serve(self, dialect: Dialect, endpoint: str, spec: ModelSpec, parsed: ParsedRequest, body: dict[str, Any],
               record: RequestRecord, rid: str, now: float, request: httpx2.Request) -> Outcome:
        scenario, provider = self.scenario, dialect.provider
        roll, injection, timing = self._dice.roll(), self._injections.random(), self.latency.sample(spec, now)
        fault, admission = self._fault_before_generation(provider, spec, parsed, record, rid, now, roll, timing)
        if fault is not None:
            return fault
        assert admission is not None
        answer = self._answer(spec, parsed, roll.spoilers(scenario, provider, now), self._dice,
                              injection_draw=injection, roll=roll)
        more = self._more_choices(spec, parsed, provider, now)
        output_tokens, longest, faults = answer.output_tokens, answer.output_tokens, answer.faults
        if more:  # n > 1 choices: billed together, generated side by side
            output_tokens += sum(a.output_tokens for a in more)
            longest = max(longest, *(a.output_tokens for a in more))
            faults = tuple(f for a in (answer, *more) for f in a.faults)
        record.bill(spec, parsed.input_tokens, output_tokens)
        record.stop_reason = dialect.stop_reason(answer)
        if faults:
            record.faults = label.with_label(record.faults, *faults)
        headers = dialect.limit_headers(admission, now)
        headers.update(dialect.request_id(rid))
        read_timeout = _read_timeout(request)
        generation = Generation(rid, EPOCH + int(now), spec.name, answer, parsed, body, more)
        if not parsed.stream:
            delay = timing.total(longest)
            if delay > read_timeout:
                record.error, record.latency, record.stop_reason = "timeout", read_timeout, None
                return Outcome(record, delay=read_timeout, failure="timeout")
            record.status, record.latency = 200, delay
            headers.update(_JSON)
            return Outcome(record, delay=delay, headers=headers, body=dumps(dialect.reply(endpoint, generation)))

        tagged = dialect.stream(endpoint, generation)
        events = [StreamEvent(timing.head if i == 0 else timing.first_token + n * timing.per_token, n, data)
                  for i, (n, data) in enumerate(tagged)]
        if breaks := roll.breaks(scenario, provider, now):
            cut = max(1, int(len(events) * breaks[0].cut(self._dice.detail(breaks[0]))))
            events = events[:cut] + [StreamEvent(events[cut].offset, events[cut].tokens,
                                                 dialect.stream_error_event(rid))]
            record.error, record.stop_reason = "stream error", None  # it never said why it would have ended
            record.faults = label.with_label(record.faults, breaks[0].name)
        elif answer.dropped:
            record.stop_reason = None  # the stream closed before it said why it ended
            record.faults = label.with_label(record.faults, label.STREAM_ERROR)
        outcome = self._timed_stream(record, spec, parsed, events, read_timeout, headers)
        if answer.broken and record.error is None and outcome.events:
            # the connection breaks after the stop reason arrived: the read of the rest fails
            outcome.stream_failure, outcome.stream_failure_at = "broken", outcome.events[-1].offset
            record.error = "connection broken"
            record.faults = label.with_label(record.faults, label.STREAM_ERROR)
        return outcome

    def answer_batch_item(self, provider: str, endpoint: str, body: dict[str, Any], start: float,
                          end: float) -> tuple[int, dict[str, Any]]:
        """One item of a finished batch: its status and body (a result or an error), logged, billed and final."""
        self._serial += 1
        rid = f"sim{self._serial:08x}"
        model = body.get("model")
        record = RequestRecord(provider, str(model or ""), f"batch:{endpoint}", start, latency=end - start)
        self._log.append(record)
        try:
            return self._batch_item(provider, endpoint, body, start, end, record, rid)
        finally:
            record.finish()

    def _batch_item(self, provider: str, endpoint: str, body: dict[str, Any], start: float, end: float,
                    record: RequestRecord, rid: str) -> tuple[int, dict[str, Any]]:
        dialect = DIALECTS[provider]
        model = body.get("model")
        spec = self.catalog.get(model) if isinstance(model, str) else None
        # before anything can fail the item, so every item draws its dice
        roll, injection = self._dice.roll(), self._injections.random()
        if spec is None or spec.provider != provider:
            return self._item_error(provider, record, self._unknown_model(provider, record, rid, model), end - start)
        try:
            parsed = parse_request(endpoint, spec, json.dumps(body, sort_keys=True).encode())
            dialect.check_limits(spec, parsed)
        except InvalidRequest as err:
            return self._item_error(provider, record, self.answer_invalid(provider, record, rid, err), end - start)
        if parsed.stream:
            return self._item_error(provider, record, self.answer_invalid(
                provider, record, rid, InvalidRequest("stream: batch requests cannot stream", "stream")), end - start)
        if refusals := roll.refusals(Stage.ADMIT, self.scenario, provider, start):
            # a batch has no connection per item, nor an outage that outlasts it: only the ADMIT refusals fail items
            record.faults = label.with_label(record.faults, refusals[0].name)
            timing = self.latency.sample(spec, start)
            outage = self._server_error(provider, record, rid, timing, overloaded=False)
            return self._item_error(provider, record, outage, end - start)
        answer = self._answer(spec, parsed, roll.spoilers(self.scenario, provider, start), self._dice,
                              injection_draw=injection, roll=roll)
        more = self._more_choices(spec, parsed, provider, start)
        output_tokens = answer.output_tokens + sum(a.output_tokens for a in more)
        record.status = 200
        record.bill(spec, parsed.input_tokens, output_tokens, discount=BATCH_DISCOUNT)
        record.stop_reason = dialect.stop_reason(answer)
        record.faults = label.with_label(record.faults, *(f for a in (answer, *more) for f in a.faults))
        generation = Generation(rid, EPOCH + int(end), spec.name, answer, parsed, body, more)
        return 200, dialect.batch_result(dialect.reply(endpoint, generation))

    @staticmethod
    def _item_error(provider: str, record: RequestRecord, outcome: Outcome,
                    batch_latency: float) -> tuple[int, dict[str, Any]]:
        """A batch item's error: the error body the direct call would have got (the Outcome is not sent)."""
        record.latency = batch_latency  # the error helpers timed it as a direct call; it took the batch's time
        return outcome.status, DIALECTS[provider].batch_error(json.loads(outcome.body))

    def inject_fault(self, provider: str, request: httpx2.Request, now: float) -> LiveFaults:
        """Live mode: the scenario's faults in front of the real API.

        What happens before generation (outage, reset, rate limit, overload) is answered locally: it costs
        nothing, and the attempt it fails is logged like any other. A broken stream is the one fault of
        generation that can be injected in front of the API too: the real stream is cut after some of its
        events and the provider's own error event put in their place.
        """
        endpoint = DIALECTS[provider].endpoint(request.method, request.url.path)
        if endpoint is None or endpoint not in GENERATING_ROUTES.values():
            return LiveFaults()
        body = decode_body(request.content or b"{}")
        spec = self.catalog.resolve(body.get("model")) if body else None
        if spec is None:
            return LiveFaults()
        try:
            parsed = parse_request(endpoint, spec, request.content or b"{}")
        except InvalidRequest:
            return LiveFaults()  # the real API will answer that
        self._serial += 1
        rid = f"sim{self._serial:08x}"
        record = RequestRecord(provider, spec.name, endpoint, now, stream=parsed.stream)
        roll, timing = self._dice.roll(), self.latency.sample(spec, now)
        self._injections.random()  # drawn as on every attempt, though the real model decides an injection here
        fault, _ = self._fault_before_generation(provider, spec, parsed, record, rid, now, roll, timing)
        if fault is not None:
            record.input_tokens = parsed.input_tokens
            self._log.append(record)
            return LiveFaults(before=fault)
        if parsed.stream and (breaks := roll.breaks(self.scenario, provider, now)):
            share = breaks[0].cut(self._dice.detail(breaks[0]))
            return LiveFaults(cut_after=max(1, int(_LIVE_STREAM_EVENTS * share)),
                              error_event=DIALECTS[provider].stream_error_event(rid))
        return LiveFaults()

    # -- pieces of the decision ---

    def _fault_before_generation(self, provider: str, spec: ModelSpec, parsed: ParsedRequest, record: RequestRecord,
                                 rid: str, now: float, roll: Roll,
                                 timing: Timing) -> tuple[Outcome | None, Admission | None]:
        """The CONNECT faults (outage, reset), the rate limit, the ADMIT faults (overload), in the order a real API
        meets them; or the admission that let the attempt by."""
        if refusals := roll.refusals(Stage.CONNECT, self.scenario, provider, now):
            return self._refuse(refusals[0], provider, record, rid, timing), None
        admission = self._limiter(spec, now).admit(parsed.input_tokens + parsed.output_estimate, now)
        if admission.limited_by is not None:
            record.faults = label.with_label(record.faults, label.RATE_LIMIT)
            return self._rate_limited(provider, spec, record, rid, timing, admission, now), None
        if refusals := roll.refusals(Stage.ADMIT, self.scenario, provider, now):
            return self._refuse(refusals[0], provider, record, rid, timing), None
        return None, admission

    def _refuse(self, fault: RefusalFault, provider: str, record: RequestRecord, rid: str, timing: Timing) -> Outcome:
        """Answer an attempt a fault refused before generation, as its kind says, labelled with the kind's name."""
        record.faults = label.with_label(record.faults, fault.name)
        if fault.refusal is Refusal.CONNECTION_RESET:
            record.error, record.latency = "connection reset", timing.head
            return Outcome(record, delay=timing.head, failure="reset")
        return self._server_error(provider, record, rid, timing, overloaded=fault.refusal is Refusal.OVERLOADED)

    def _answer(self, spec: ModelSpec, parsed: ParsedRequest, spoilers: tuple[ReplyFault, ...], dice: FaultDice, *,
                injection_draw: float | None = None, sampling: random.Random | None = None,
                roll: Roll | None = None) -> Answer:
        """One choice of the reply: the responder's text, maybe spoiled, ended at a stop sequence, cut at max_tokens.

        `spoilers` are the reply faults that struck it; `roll` holds the attempt's dice, which the citation faults
        read when the reply quotes its sources; both draw their details from `dice`. `sampling`
        defaults to the world's own stream; the extra choices of an n > 1 request pass their own (and their own
        dice), so that asking for more choices shifts no draw of the world's. `injection_draw` decides an injected
        instruction (None, for the extra choices: the draw the prompt fixes).
        """
        prompt = parsed.prompt
        turn = Turn(prompt, parsed.messages, parsed.max_tokens, injection_draw=injection_draw,
                    memory_draw=self._memory_die if sampling is None else self._choices_memory_die)
        reply: Reply | None = None
        is_tempted = bool(parsed.calls or parsed.results) and tempted(prompt)  # read only when it can matter
        # an obeyed injection takes over before the planned calls are made
        if is_tempted and parsed.calls and (
                first := self.responders.reply(turn, sampling or self._sampling)).skill == "injected":
            reply = first
        if reply is None and parsed.calls:
            reply = call_tools(turn, parsed.calls, self._tool_rng(), responders=self.responders)
        elif reply is None:
            reply = self.responders.reply(turn, sampling or self._sampling)
            if parsed.results:
                reply = relay_results(reply, resisted_results(prompt) if is_tempted else parsed.results)
        # The planned calls, unless an obeyed injection took the reply over (then only a call it demands).
        calls = _names(parsed) if reply.skill == "tool_calls" else ()
        blocks, tool = reply.blocks, parsed.forced_tool
        demanded = _demanded_call(reply, parsed)
        if demanded is not None:  # an obeyed injection calls the tool it named, when the request offers it
            blocks, tool, calls = (Block(demanded[1]),), demanded[0], (demanded[0],)
        labels: tuple[str, ...] = _SKILL_LABELS.get(reply.skill, ())
        if reply.cited is not None and roll is not None and (quoters := roll.quoters(self.scenario)):
            blocks, misquoted = _misquote(reply.cited, quoters, dice, self.scenario)
            labels += misquoted
        ending, stop_sequence = reply.ending, reply.stop_sequence
        spoiled_by: tuple[str, ...] = ()
        refused = False
        if spoilers and reply.skill != "injected":  # an obeyed injection's text (or call) is the attacker's, not JSON
            blocks, spoiled_by, refused = _spoil(blocks, reply.skill == "tool_calls", parsed, spoilers, dice)
        labels += spoiled_by
        if refused:  # the model declined: its reply is the refusal's text, no call, no tool input
            calls, tool, ending = (), None, "refusal"
        if parsed.stop and parsed.forced_tool is None and not parsed.calls:
            blocks, matched = _cut_at_stop(blocks, parsed.stop)
            if matched is not None and ending in (None, "stop_sequence"):  # a scripted refusal, drop or break stays
                ending, stop_sequence = "stop_sequence", matched
        limit = parsed.max_tokens or spec.max_output_tokens
        kept: list[Block] = []
        used = 0
        for block in blocks:
            n = count_pieces(block.pieces, spec.encoding) if block.pieces else count_tokens(block.text, spec.encoding)
            if used + n > limit:
                kept.append(Block(truncate_to_tokens(block.text, limit - used, spec.encoding)))
                return Answer(tuple(kept), limit, truncated=True, tool=tool, ending=ending,
                              stop_sequence=stop_sequence, calls=calls, faults=(*labels, label.TRUNCATED),
                              structured_refusal=refused)
            kept.append(block)
            used += n
        return Answer(tuple(kept), used, truncated=False, tool=tool, ending=ending, stop_sequence=stop_sequence,
                      calls=calls, faults=labels, structured_refusal=refused)

    def _memory_die(self) -> float:
        """A draw of `{seed}:fault:from_memory`, the die that decides whether a corpus question whose gold sources
        are missing is answered from memory. Created on first use and drawn only for such a question, so a world
        that never asks one makes exactly the draws it always made."""
        return self._memory_stream("fault:from_memory").random()

    def _choices_memory_die(self) -> float:
        """The same die for the extra choices of an n > 1 request, from `{seed}:choices:fault:from_memory`."""
        return self._memory_stream("choices:fault:from_memory").random()

    def _memory_stream(self, name: str) -> random.Random:
        rng = self._memory_rngs.get(name)
        if rng is None:
            rng = self._memory_rngs[name] = random.Random(f"{self._seed}:{name}")
        return rng

    def _tool_rng(self) -> random.Random:
        """The stream tool calls' arguments draw from, `{seed}:tools`.

        Created on first use, so a world that never calls a tool makes exactly the draws it always made.
        """
        if self._tools_rng is None:
            self._tools_rng = random.Random(f"{self._seed}:tools")
        return self._tools_rng

    def _more_choices(self, spec: ModelSpec, parsed: ParsedRequest, provider: str, now: float) -> tuple[Answer, ...]:
        """Choices 1 to n-1 of a request for n > 1 choices (choice 0 is `_answer`'s, the same as with n=1).

        They sample from their own stream, `{seed}:choices`, and roll the reply faults from dice of their own
        (`{seed}:choices:fault:<name>`), all created on first use: a world that never asks for several choices
        makes exactly the draws it always made.
        """
        if parsed.n == 1:
            return ()
        if self._choice_rng is None or self._choice_dice is None:
            self._choice_rng = random.Random(f"{self._seed}:choices")
            self._choice_dice = FaultDice(self._seed, self._dice.kinds, purpose="choices:fault")
        dice = self._choice_dice
        return tuple(self._answer(spec, parsed, roll.spoilers(self.scenario, provider, now), dice,
                                  sampling=self._choice_rng, roll=roll)
                     for roll in (dice.roll() for _ in range(parsed.n - 1)))

    def _timed_stream(self, record: RequestRecord, spec: ModelSpec, parsed: ParsedRequest,
                      events: list[StreamEvent], read_timeout: float, headers: dict[str, str]) -> Outcome:
        """Cut the stream where the client's read timeout fires, and fill in the record's final state."""
        if events[0].offset > read_timeout:
            record.error, record.latency, record.stop_reason = "timeout", read_timeout, None
            return Outcome(record, delay=read_timeout, failure="timeout")
        outcome = Outcome(record, delay=events[0].offset, headers=headers | _SSE, events=events)
        sent = events
        for previous, event in zip(events, events[1:], strict=False):
            if event.offset - previous.offset > read_timeout:
                sent = outcome.events = events[: events.index(event)]
                outcome.stream_failure, outcome.stream_failure_at = "timeout", previous.offset + read_timeout
                record.error, record.stop_reason = "timeout", None
                break
        last = sent[-1]
        record.status = 200
        record.latency = outcome.stream_failure_at or last.offset
        record.bill(spec, parsed.input_tokens, last.tokens)
        return outcome

    def _limiter(self, spec: ModelSpec, now: float) -> ModelLimiter:
        limiter = self._limiters.get(spec.name)
        if limiter is None:
            limits = self.scenario.rate_limits
            limiter = self._limiters[spec.name] = ModelLimiter(
                limits.requests_per_minute, limits.tokens_per_minute, now, limits.requests_per_day)
        return limiter

    def _quick(self, spec: ModelSpec, now: float) -> float:
        """How long a reply that involves no generation takes: the profile's overhead, drift included."""
        return spec.latency.overhead * self.latency.multiplier(now)

    # -- answers that are errors ------------------------------------------------------------------------

    def answer_json(self, record: RequestRecord, data: dict[str, Any], rid: str, delay: float,
                     status: int = 200, headers: dict[str, str] | None = None) -> Outcome:
        record.status, record.latency = status, delay
        if status >= 400:
            record.error = error_name(data)
        all_headers = _JSON | DIALECTS[record.provider].request_id(rid) | (headers or {})
        return Outcome(record, delay=delay, status=status, headers=all_headers, body=dumps(data))

    def _unknown_model(self, provider: str, record: RequestRecord, rid: str, model: object) -> Outcome:
        if not model:
            return self.answer_invalid(provider, record, rid, InvalidRequest("model: Field required", "model"))
        valid = [m.name for m in self.catalog.for_provider(provider)]
        retired = isinstance(model, str) and RETIRED.get(model) == provider
        data = DIALECTS[provider].unknown_model(model, valid=valid, retired=retired, rid=rid)
        return self.answer_json(record, data, rid, 0.05, status=404)

    def answer_invalid(self, provider: str, record: RequestRecord, rid: str, err: InvalidRequest) -> Outcome:
        return self.answer_json(record, DIALECTS[provider].invalid(err, rid), rid, 0.05, status=400)

    def _server_error(self, provider: str, record: RequestRecord, rid: str, timing: Timing, *,
                      overloaded: bool) -> Outcome:
        """An outage's error (`overloaded=False`) or an overload's, in the provider's shape and status."""
        status, data = DIALECTS[provider].server_error(rid, overloaded=overloaded)
        return self.answer_json(record, data, rid, timing.head, status=status)

    def _rate_limited(self, provider: str, spec: ModelSpec, record: RequestRecord, rid: str, timing: Timing,
                      admission: Admission, now: float) -> Outcome:
        """A 429 with the provider's rate-limit headers and, when waiting can help, how long to wait."""
        dialect = DIALECTS[provider]
        headers = dialect.limit_headers(admission, now)
        if not math.isinf(admission.retry_after):
            headers["retry-after"] = str(max(1, math.ceil(admission.retry_after)))
        return self.answer_json(record, dialect.rate_limited(spec.name, admission, rid), rid, timing.head,
                                status=429, headers=headers)


_JSON = {"content-type": "application/json"}
# What a reply's skill says the world put into it: an obeyed injection, an answer from memory (skills/grounded.py)
_SKILL_LABELS = {"injected": (label.INJECTION_OBEYED,), "from_memory": (label.FROM_MEMORY,)}
_SSE = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


def _read_timeout(request: httpx2.Request) -> float:
    timeout = request.extensions.get("timeout") or {}
    read = timeout.get("read")
    return math.inf if read is None else float(read)


def _cut_at_stop(blocks: tuple[Block, ...], stops: tuple[str, ...]) -> tuple[tuple[Block, ...], str | None]:
    """The blocks up to the first stop sequence in their text, which is left out (as both APIs do), and the one matched.

    Where two sequences start at the same character the shorter one matches: a model emitting text
    token by token completes it first.
    """
    text = "".join(b.text for b in blocks)
    found = min(((i, len(s), s) for s in stops if (i := text.find(s)) >= 0), default=None)
    if found is None:
        return blocks, None
    at, _, matched = found
    kept: list[Block] = []
    start = 0
    for block in blocks:
        if start + len(block.text) >= at:
            if at > start or not kept:  # no empty block after the last one kept, but always at least one
                kept.append(Block(block.text[: at - start], block.citations))
            break
        kept.append(block)
        start += len(block.text)
    return tuple(kept), matched


def _names(parsed: ParsedRequest) -> tuple[str, ...]:
    return tuple(tool.name for tool in parsed.calls)


def _spoil(blocks: tuple[Block, ...], calling: bool, parsed: ParsedRequest, spoilers: tuple[ReplyFault, ...],
           dice: FaultDice) -> tuple[tuple[Block, ...], tuple[str, ...], bool]:
    """The reply's blocks after the reply faults that struck it, their labels, and whether one made it a refusal.

    Only structured text is spoiled: a JSON reply (`prompt.schema`), or the first of the planned tool calls'
    arguments when `calling`. Each fault spoils what the one before left; a refusal ends the reply, so no
    fault after it runs. A fault that does not apply to this reply (`strike` gives None) leaves no label.
    """
    prompt = parsed.prompt
    source = "\n".join([prompt.system, prompt.user, *(d.text for d in prompt.documents)])
    labels: tuple[str, ...] = ()
    for fault in spoilers:
        if calling:
            call = parsed.calls[0]
            target = Structured(blocks[0].text, call.schema, strict=call.strict, source=source)
        elif prompt.schema is not None and not parsed.calls:
            target = Structured("".join(b.text for b in blocks), prompt.schema, strict=parsed.strict, source=source)
        else:
            return blocks, labels, False
        spoiled = fault.strike(target, dice.detail(fault))
        if spoiled is None:
            continue
        labels += (spoiled.label,)
        if spoiled.refusal:
            return (Block(spoiled.text),), labels, True
        blocks = (Block(spoiled.text), *blocks[1:]) if calling else (Block(spoiled.text),)
    return blocks, labels, False


def _misquote(cited: Cited, quoters: tuple[tuple[QuoteFault, float], ...], dice: FaultDice,
              scenario: ScenarioView) -> tuple[tuple[Block, ...], tuple[str, ...]]:
    """A grounded answer's text after the citation faults whose dice struck it, and their labels.

    A kind whose die falls under its chance for this reply draws once from its detail stream, whatever the reply
    offers it, and takes its choices from that draw: so its stream moves the same with or without the other
    kinds, and a kind that finds its quote already taken by one before it just leaves no label.
    """
    taken: frozenset[int] = frozenset()
    labels: tuple[str, ...] = ()
    for kind, die in quoters:
        if die >= kind.chance(scenario, cited):
            continue
        struck = kind.strike(cited, random.Random(dice.detail(kind).getrandbits(64)), taken)
        if struck is not None:
            cited, place = struck
            taken |= {place}
            labels += (kind.label(place),)
    return (Block(cited.text),), labels


def _demanded_call(reply: Reply, parsed: ParsedRequest) -> tuple[str, str] | None:
    """The tool call an obeyed injection demands (its name and arguments), if the request offers that tool.

    Both renderers read it: OpenAI's as a function call (`calls`), Anthropic's as a tool_use block (`tool`).
    """
    if reply.demanded_call is None:
        return None
    name, carrying = reply.demanded_call
    tool = next((t for t in parsed.offered if t.name == name), None)
    return None if tool is None else (name, demanded_arguments(tool.schema, carrying))


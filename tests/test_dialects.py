"""Provider dialects: everything that differs between the providers' APIs is one object per provider.

The layers that carry traffic (the service, the transports, live mode, the wire and `faultfirst serve`)
ask `DIALECTS[provider]` and never compare a provider's name; the catalogue's providers and the dialects
are the same set; and a new provider is at most four files (docs/architecture.md, "Adding a provider"),
shown here by adding one to a copy of the package and calling it through the real `openai` SDK.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx2

from faultfirst.model.catalog import PROVIDERS
from faultfirst.wire.dialects import DIALECTS, GENERATING_ROUTES, dialect_for

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "faultfirst"
# Where provider differences must go through a dialect. checks/ is the exercise checks' own business.
SCANNED = ("service", "transports", "live", "wire", "serve.py")
_NAMES = "|".join(map(re.escape, PROVIDERS))
_BRANCH = re.compile(rf"""(==|!=)\s*["']({_NAMES})["']|["']({_NAMES})["']\s*(==|!=)|^\s*case\s+["']({_NAMES})["']""")


def provider_branches(path: Path, text: str) -> list[str]:
    """`file:line: code` for each comparison of something with a provider's name in `text`."""
    return [f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
            for n, line in enumerate(text.splitlines(), 1) if _BRANCH.search(line)]


def test_no_layer_that_carries_traffic_branches_on_a_provider_name():
    found = []
    for name in SCANNED:
        root = PACKAGE / name
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            found += provider_branches(path, path.read_text(encoding="utf-8"))
    assert not found, "ask the provider's dialect (wire/dialects/) instead of:\n" + "\n".join(found)


def test_the_scan_finds_a_planted_branch():
    """The scan is not a rubber stamp: each way of writing the branch is reported, with its file and line."""
    planted = 'x = 1\nif provider == "openai":\n    pass\nif "anthropic" != record.provider:\n    pass\n'
    planted += 'match provider:\n    case "anthropic":\n        pass\nfriendly = provider_name == "openai-ish"\n'
    found = provider_branches(PACKAGE / "service" / "engine.py", planted)
    assert [f.split(": ")[0] for f in found] == ["faultfirst/service/engine.py:2", "faultfirst/service/engine.py:4",
                                                  "faultfirst/service/engine.py:7"]


def test_every_catalogue_provider_has_exactly_one_dialect():
    assert sorted(DIALECTS) == sorted(PROVIDERS)
    assert all(name == dialect.provider for name, dialect in DIALECTS.items())


def test_each_path_belongs_to_one_dialect_and_routes_to_it():
    """No two dialects serve a path or name an endpoint alike; `faultfirst serve` routes each path to its owner,
    and a path none has (or GET /v1/models) by the header only the Anthropic SDK sends."""
    endpoints = [e for d in DIALECTS.values() for e in (*d.generating.values(), *d.counting.values())]
    assert len(endpoints) == len(set(endpoints))
    assert set(GENERATING_ROUTES.values()) == {e for d in DIALECTS.values() for e in d.generating.values()}
    for dialect in DIALECTS.values():
        for path in (*dialect.generating, *dialect.counting):
            assert [d.provider for d in DIALECTS.values() if d.serves(path)] == [dialect.provider]
            assert dialect_for(path, httpx2.Headers({"anthropic-version": "2023-06-01"})) is dialect
    assert dialect_for("/v1/batches/batch_x", httpx2.Headers()).provider == "openai"
    assert dialect_for("/v1/messages/batches/msgbatch_x", httpx2.Headers()).provider == "anthropic"
    assert dialect_for("/v1/models", httpx2.Headers({"Anthropic-Version": "2023-06-01"})).provider == "anthropic"
    assert dialect_for("/v1/models", httpx2.Headers()).provider == "openai"


_ACME_DIALECT = '''
"""Acme's wire: OpenAI's Chat Completions and Responses, with its own request-id header and no batch API."""

from .openai import OpenAIDialect


class AcmeDialect(OpenAIDialect):
    provider = "acme"
    batch_api = None
    batch_routes = None
    api_key_env = "ACME_API_KEY"
    request_id_header = "x-acme-request-id"


DIALECT = AcmeDialect()
'''

_ACME_CLIENT = '''
    def acme(self, **client_kwargs: Any) -> OpenAI:
        """A real `openai.OpenAI` client wired to this world's Acme API (Acme speaks OpenAI's wire)."""
        transport = self._transport("acme")
        return OpenAI(**self._client_kwargs("acme", client_kwargs, httpx2.Client(transport=transport)))

    def anthropic(self'''

_ACME_CALLS = '''
import openai
from faultfirst import World

world = World(seed=3)
client = world.acme()
raw = client.chat.completions.with_raw_response.create(model="acme-fast", messages=[{"role": "user", "content": "hi"}])
reply = raw.parse()
assert reply.choices[0].message.content and raw.headers["x-acme-request-id"].startswith("req_sim")
assert "x-ratelimit-limit-requests" in raw.headers and "x-request-id" not in raw.headers
assert [m.id for m in client.models.list()] == ["acme-fast"]
try:
    client.chat.completions.create(model="gpt-fast", messages=[{"role": "user", "content": "hi"}])
except openai.NotFoundError as err:
    assert "The simulated acme models are: acme-fast." in err.message, err.message
else:
    raise AssertionError("another provider's model was accepted")
first = world.requests[0]
assert (first.provider, first.model, first.status, first.cost_usd > 0) == ("acme", "acme-fast", 200, True)
assert world.clock.now() > 0  # the reply took simulated time
from faultfirst.wire.dialects import DIALECTS, dialect_for
assert list(DIALECTS) == ["openai", "anthropic", "acme"]  # the catalogue's order: who answers a shared path
assert dialect_for("/v1/chat/completions", {}).provider == "openai"  # serve gives OpenAI's paths to OpenAI
print("acme ok")
'''


def _changed_files(a: Path, b: Path) -> list[str]:
    """The files that differ between two package trees, or exist in one only (caches left out)."""
    compared = filecmp.dircmp(a, b, ignore=["__pycache__"])
    changed = [str(Path(a.name, n)) for n in (*compared.diff_files, *compared.left_only, *compared.right_only)]
    for sub in compared.common_dirs:
        changed += [str(Path(a.name, c)) for c in _changed_files(a / sub, b / sub)]
    return changed


def test_a_new_provider_is_at_most_four_files(tmp_path):
    """Acme, an OpenAI-compatible provider, added to a copy of the package as docs/architecture.md walks it
    through: its dialect, its catalogue entries and a World client method (the SDK sleep routing is the
    `openai` SDK's already). Through the real SDK it answers, names requests its own way, lists and refuses
    models as its own, and is logged and billed; nothing else in the package changed."""
    copy = tmp_path / "faultfirst"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "wire" / "dialects" / "acme.py").write_text(textwrap.dedent(_ACME_DIALECT).lstrip(), encoding="utf-8")
    catalog = copy / "model" / "catalog.py"
    text = catalog.read_text(encoding="utf-8")
    text = text.replace('Literal["openai", "anthropic"]', 'Literal["openai", "anthropic", "acme"]')
    text = text.replace("_MODELS = (\n", "_MODELS = (\n"
                        '    ModelSpec("acme-fast", "acme", "fast", 64_000, 8_192, 0.10, 0.40,\n'
                        '              LatencyProfile(0.05, 0.30, 0.008), "o200k_base"),\n')
    catalog.write_text(text, encoding="utf-8")
    world = copy / "world.py"
    world.write_text(world.read_text(encoding="utf-8").replace("\n    def anthropic(self", _ACME_CLIENT, 1),
                     encoding="utf-8")
    changed = sorted(_changed_files(PACKAGE, copy))
    assert changed == ["faultfirst/model/catalog.py", "faultfirst/wire/dialects/acme.py", "faultfirst/world.py"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", _ACME_CALLS], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "acme ok", result.stdout + result.stderr

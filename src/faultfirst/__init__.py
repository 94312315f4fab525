"""Fault-First AI Engineering: the simulated model world every lesson runs against.

    from faultfirst import World
    world = World(seed=7, scenario="rate-limited")
    gpt = world.openai()        # a real openai.OpenAI wired to the world
    claude = world.anthropic()  # a real anthropic.Anthropic wired to the world
"""

from ._catalog import Catalog, ModelSpec
from ._records import RequestRecord
from ._scenarios import SCENARIOS, Outage, RateLimits, Scenario
from ._errors import SpendCapExceeded
from ._world import World

__all__ = ["World", "Catalog", "ModelSpec", "RequestRecord", "Scenario", "SCENARIOS", "RateLimits", "Outage",
           "SpendCapExceeded"]

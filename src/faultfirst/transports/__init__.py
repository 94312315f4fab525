"""Transports: how an `Outcome` reaches an SDK client a world hands out, as in-process httpx transports.

They spend the virtual time the engine decided (the clock jumps, or the world's event loop sleeps); they
decide nothing. `faultfirst serve` (faultfirst/serve.py) answers other clients over real HTTP with the
same engine.
"""

"""Transports: how an `Outcome` reaches a client. In-process httpx transports for the SDK clients a
world hands out, and `faultfirst serve`'s HTTP server for any other client. They spend the virtual time
the engine decided; they decide nothing."""

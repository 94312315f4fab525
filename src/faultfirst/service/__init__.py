"""The simulated API service: what the world decides about each attempt.

The engine takes a parsed request and decides its `Outcome` (status, headers, body or stream events,
timing) from the scenario's faults, the latency model, rate limits and the model's reply; spend, batches
and the request records hang off it. It decides, it never waits: transports spend the time.
"""

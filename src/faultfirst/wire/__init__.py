"""The wire: requests parsed from each provider's JSON and replies rendered into it.

What differs between providers lives here, not in the engine: one dialect per provider (`dialects`: its
routes, limits, errors, headers and batch item shapes), the parsers (`parse`) and renderers
(`openai_render`, `responses_stream`, `anthropic_render`) the dialects call, SSE framing (`framing`), the
retryable-status rule both SDKs apply (`retryable`) and the errors raised on the client side before
anything is sent (`client_errors`).
"""

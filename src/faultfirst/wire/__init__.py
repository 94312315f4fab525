"""The wire: requests parsed from each provider's JSON and replies rendered into it.

Parsing (`parse`), rendering per provider (`openai_render`, `anthropic_render`), SSE framing
(`framing`), the retryable-status rule both SDKs apply (`retryable`) and the errors raised on the client
side before anything is sent (`client_errors`). What differs between providers lives here, not in the
engine.
"""

"""Time: the virtual clock, the event loop that runs on it, and the routing of the SDKs' sleeps onto it.

The lowest layer. Nothing here knows about models, providers or HTTP: a `Clock` that jumps instead of
waiting, a `VirtualTimeLoop` whose timers read it, `Limits` that bound a runaway loop in a check, and the
patch that makes `openai` and `anthropic` sleep on the world's clock between retries.
"""

"""A stream that fails midway, at the scenario's `stream_error_rate`.

The stream is cut after a quarter to three quarters of its events (the kind's detail stream says
where) and the provider's own error event takes the place of the rest; in live mode, the real
stream is cut the same way.
"""

from __future__ import annotations

from . import labels
from .kind import StreamFault

STREAM_ERROR = StreamFault(name=labels.STREAM_ERROR, rate_field="stream_error_rate")

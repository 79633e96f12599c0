"""Built-in middleware: compression, CORS, security headers, trusted hosts, request ids.

Each is a class configured once and added to an app; the first added is the outermost::

    from typhoon.web.middleware import CORS, GZip, RequestID, SecurityHeaders, TrustedHosts

    app.add_middleware(TrustedHosts(["example.com", "*.example.com"]))
    app.add_middleware(RequestID())
    app.add_middleware(SecurityHeaders())
    app.add_middleware(CORS(["https://app.example.com"]))
    app.add_middleware(GZip(minimum_size=500))

Put ``TrustedHosts`` first so that nothing runs for a forged host, and ``GZip`` last
(innermost) so that it compresses what the others have finished.
"""

from __future__ import annotations

from typhoon.web.middleware.cors import CORS
from typhoon.web.middleware.gzip import GZip
from typhoon.web.middleware.hosts import TrustedHosts
from typhoon.web.middleware.request_id import RequestID
from typhoon.web.middleware.security import SecurityHeaders

__all__ = ["CORS", "GZip", "RequestID", "SecurityHeaders", "TrustedHosts"]

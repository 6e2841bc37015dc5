"""The sign-in rate limit: failed sign-ins counted per source, in memory that stays bounded under a flood.

A source is the browser's device cookie when it has one (handed out at a successful sign-in, as in OWASP's
"device cookies"), else the client's address: the peer's, or the one a proxy named with `--trusted-proxy`
forwarded. A forwarded header from anyone else is ignored, since any client can write one: a guesser cannot
spread guesses over made-up addresses. And annotators who have signed in before from their browser are never
locked out by a guesser who shares their address (behind one proxy, tunnel or office NAT everyone does): their
failures are counted apart. IPv6 clients count per /64, the block one host usually holds.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque

from chatrecipe.annotate.security import DEVICE_COOKIE, DEVICE_SECONDS, Signer

DEVICE = "device"  # the signer's purpose for device cookies


def address_key(host: str) -> str:
    """The rate-limit key of a client address: itself for IPv4, its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        if address.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def device_cookie(signer: Signer, kind: str, annotator_id: int | None) -> str:
    return signer.sign(DEVICE, f"{kind}-{annotator_id or 0}")


def sign_in_source(request, signer: Signer) -> str:
    """Whose failures a sign-in attempt counts among: this browser's device cookie, else its address."""
    device = signer.verify(request.cookies.get(DEVICE_COOKIE), DEVICE, DEVICE_SECONDS)
    if device is not None:
        return f"device:{device}"
    return "address:" + address_key(request.client.host if request.client else "unknown")


class RateLimiter:
    """At most `attempts` failed sign-ins per source in any `window` seconds; then refuse until the oldest ages.

    Memory is bounded twice: each source keeps only its last `attempts` failure times, and at most `max_sources`
    sources are remembered (those whose last failure is oldest are forgotten first; those older than the window
    are forgotten anyway).
    """

    def __init__(self, attempts: int = 10, window: float = 60.0, max_sources: int = 10_000):
        self.attempts, self.window, self.max_sources = attempts, window, max_sources
        self.failures: OrderedDict[str, deque] = OrderedDict()  # least recently failed first
        self.lock = threading.Lock()

    def _forget_old(self, moment: float) -> None:
        while self.failures:
            source, times = next(iter(self.failures.items()))
            if moment - times[-1] <= self.window and len(self.failures) <= self.max_sources:
                return
            del self.failures[source]

    def blocked(self, source: str) -> float:
        """Seconds until `source` may try again (0 when allowed)."""
        with self.lock:
            moment = time.monotonic()
            self._forget_old(moment)
            times = self.failures.get(source)
            if times is None or len(times) < self.attempts:
                return 0.0
            wait = self.window - (moment - times[0])
            return max(1.0, wait) if wait > 0 else 0.0

    def fail(self, source: str) -> None:
        with self.lock:
            moment = time.monotonic()
            times = self.failures.pop(source, None) or deque(maxlen=self.attempts)
            times.append(moment)
            self.failures[source] = times
            self._forget_old(moment)

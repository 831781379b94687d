"""Where Flowyard may connect on a tenant's behalf: public addresses only, never its own services.

A tenant steers URLs and hosts (an HTTP step, a connection's base URL, a token URL, a Mastodon
instance, a database host). Without this, a step could read the cloud metadata service, the Prefect
API (every tenant's runs) or the platform database. So a host is resolved once, every address it
resolves to is classified (never the URL text: `2130706433`, `0x7f.1` and `0` all resolve to
loopback), and the connection goes to an address that was checked, not to a second lookup an
attacker's DNS could answer differently. TLS still checks the certificate against the host name.

Internal hosts are reachable only when an operator lists them in FLOWYARD_EGRESS__ALLOW; Flowyard's
own services (Prefect API, platform API, the databases) are refused even then. A refusal is a
`Permanent` step failure naming the rule and the setting.

httpx 0.28 has no public network-backend option, so the transports below replace the private `_pool`
of httpx's transport with an httpcore pool over a guarded backend (httpx is pinned in pyproject.toml;
tests/security/test_egress.py checks the pinning). No proxy may ever be configured on these clients:
the backend would check the proxy's address instead of the destination's.
"""

from __future__ import annotations

import socket
import ssl
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from core.errors import Permanent
from core.settings import Settings

SETTING = "FLOWYARD_EGRESS__ALLOW"
MAX_REDIRECTS = 10

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], list[str]]  # host, port -> addresses (tests inject one)

# Explicit, because `ipaddress`'s is_private / is_global tables are wrong for several of these on
# Python 3.11 (CGNAT is not "private", multicast, NAT64 and 6to4 are "global").
_DENIED: tuple[tuple[str, IPNetwork], ...] = tuple(
    (reason, ip_network(network))
    for reason, network in (
        ("an unspecified address (it reaches this machine)", "0.0.0.0/8"),
        ("a private address", "10.0.0.0/8"),
        ("a shared (CGNAT) address", "100.64.0.0/10"),
        ("a loopback address", "127.0.0.0/8"),
        ("a link-local address (cloud metadata services answer there)", "169.254.0.0/16"),
        ("a private address", "172.16.0.0/12"),
        ("a reserved address", "192.0.0.0/24"),
        ("a documentation address", "192.0.2.0/24"),
        ("a reserved (6to4 relay) address", "192.88.99.0/24"),
        ("a private address", "192.168.0.0/16"),
        ("a benchmarking address", "198.18.0.0/15"),
        ("a documentation address", "198.51.100.0/24"),
        ("a documentation address", "203.0.113.0/24"),
        ("a multicast address", "224.0.0.0/4"),
        ("a reserved address", "240.0.0.0/4"),
        ("an unspecified address (it reaches this machine)", "::/128"),
        ("a loopback address", "::1/128"),
        ("an IPv4-compatible address", "::/96"),
        ("a local-use NAT64 address", "64:ff9b:1::/48"),
        ("a discard-only address", "100::/64"),
        ("a reserved (IETF protocol) address", "2001::/23"),
        ("a documentation address", "2001:db8::/32"),
        ("a private (unique local) address", "fc00::/7"),
        ("a link-local address", "fe80::/10"),
        ("a site-local address", "fec0::/10"),
        ("a multicast address", "ff00::/8"),
    )
)
_NAT64 = ip_network("64:ff9b::/96")


def deny_reason(ip: IPAddress) -> str | None:
    """Why no tenant may reach this address by default, or None for a public one."""
    if isinstance(ip, IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = deny_reason(embedded)
            if inner is not None:
                return f"an address that embeds {embedded}, {inner}"
            if ip.sixtofour is not None:
                return "a 6to4 address"
            return None
        if ip.scope_id:
            return "a scoped (interface-local) address"
    for reason, network in _DENIED:
        if ip in network:
            return reason
    if not ip.is_global:
        return "a special-purpose address"
    return None


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return IPv4Address(ip.packed[-4:])
    return ip.sixtofour


def _plain(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address as the IPv4 address it reaches."""
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _local(ip: IPAddress) -> bool:
    return ip.is_loopback or ip.is_unspecified


class EgressRefused(Permanent):
    """A destination the policy refuses: never retried, whatever the step's retry settings."""


@dataclass(frozen=True)
class _AllowEntry:
    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    def admits(self, host: str, ip: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host.lower().rstrip(".")
        return self.network is not None and _plain(ip) in self.network


def parse_allow_entry(entry: str) -> _AllowEntry:
    """`10.0.0.0/8` (any port), `10.1.2.3/32:8443`, `crm.internal:8443`, `[fd00::1]:443`."""
    text = entry.strip()
    try:
        return _AllowEntry(network=ip_network(text, strict=False))
    except ValueError:
        pass
    head, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not head:
        raise ValueError(f"'{entry}' is neither a CIDR (10.0.0.0/8) nor a host:port (crm.internal:8443)")
    head = head.removeprefix("[").removesuffix("]")
    try:
        return _AllowEntry(network=ip_network(head, strict=False), port=int(port))
    except ValueError:
        return _AllowEntry(host=head.lower().rstrip("."), port=int(port))


@dataclass(frozen=True)
class OwnService:
    label: str  # e.g. "the Prefect API"
    host: str
    port: int


def own_services(settings: Settings) -> list[OwnService]:
    """Flowyard's own endpoints, from the settings: never a step's destination."""
    found = [
        _service("the Prefect API", settings.prefect_api_url),
        _service("the platform API", f"http://{_bracketed(settings.api.host)}:{settings.api.port}"),
        _service("the platform API", settings.api_public_url),
        _service("the platform database", settings.platform_database_url),
        _service("the Prefect database", settings.prefect_database_url),
    ]
    return [service for service in found if service is not None]


_DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "postgresql": 5432,
    "postgres": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "mssql": 1433,
    "oracle": 1521,
}


def default_port(scheme: str) -> int | None:
    return _DEFAULT_PORTS.get(scheme.split("+")[0].lower())


def _service(label: str, url: str) -> OwnService | None:
    parts = urlsplit(url)
    try:
        port = parts.port or default_port(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:  # SQLite files, sockets: nothing to reach over the network
        return None
    return OwnService(label, parts.hostname, port)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


async def _async_system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass
class EgressPolicy:
    """What may be reached: `allow` entries (CIDRs, host:port) open internal hosts; `services` never."""

    allow: Sequence[str] = ()
    services: Sequence[OwnService] = ()
    resolver: Resolver | None = None  # None: the system's (async in the async backend)
    _allow: list[_AllowEntry] = field(init=False, repr=False)
    _own: dict[tuple[IPAddress | str, int], str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._allow = [parse_allow_entry(entry) for entry in self.allow]

    def resolve(self, host: str, port: int) -> list[str]:
        return (self.resolver or system_resolver)(host, port)

    async def aresolve(self, host: str, port: int) -> list[str]:
        if self.resolver is not None:
            return self.resolver(host, port)
        return await _async_system_resolver(host, port)

    def check(self, host: str, port: int, addresses: Iterable[str]) -> list[str]:
        """The addresses to connect to, or EgressRefused if any one of them is refused (a mixed DNS
        answer is refused whole: the connection might otherwise land on the bad one)."""
        checked: list[str] = []
        for address in addresses:
            ip = ip_address(address)
            self._refuse_own(host, ip, port)
            if not any(entry.admits(host, ip, port) for entry in self._allow):
                reason = deny_reason(ip)
                if reason is not None:
                    raise refused(host, port, f"{ip} is {reason}")
            if address not in checked:
                checked.append(address)
        if not checked:
            raise refused(host, port, f"{host} resolved to no address")
        return checked

    def check_host(self, host: str, port: int) -> list[str]:
        """Resolve (once) and check: the addresses to connect to."""
        return self.check(host, port, self.resolve(host, port))

    def _refuse_own(self, host: str, ip: IPAddress, port: int) -> None:
        own = self._own_addresses()
        ip = _plain(ip)
        label = own.get((ip, port))
        if label is None and _local(ip):
            label = own.get((_LOCAL, port))
        if label is None and deny_reason(ip) is not None:
            label = own.get((_ANY_INTERNAL, port))
        if label is not None:
            raise EgressRefused(
                f"Refused to connect to {_bracketed(host)}:{port}: {ip}:{port} is {label}, which is "
                f"Flowyard's own service and never a step's destination (not even when listed in {SETTING}).",
                hint="Call the service's public address, or use a workflow step made for the task.",
                details={"egress": "own-service", "host": host, "port": port},
            )

    def _own_addresses(self) -> dict[tuple[IPAddress | str, int], str]:
        """Resolved once: (address, port) -> label. A service on loopback is reached from any local
        address at its port (`_LOCAL`); one listening on every address also from the machine's internal
        addresses (`_ANY_INTERNAL`)."""
        if self._own is None:
            own: dict[tuple[IPAddress | str, int], str] = {}
            for service in self.services:
                try:
                    addresses = [_plain(ip_address(a)) for a in self.resolve(service.host, service.port)]
                except (OSError, ValueError):
                    continue
                for ip in addresses:
                    own[(ip, service.port)] = service.label
                    if _local(ip):
                        own.setdefault((_LOCAL, service.port), service.label)
                    if ip.is_unspecified:
                        own.setdefault((_ANY_INTERNAL, service.port), service.label)
            self._own = own
        return self._own


_LOCAL, _ANY_INTERNAL = "local", "any-internal"


def refused(host: str, port: int, why: str) -> EgressRefused:
    return EgressRefused(
        f"Refused to connect to {_bracketed(host)}:{port}: {why}. Workflow steps may only reach public "
        f"addresses unless an operator lists the host in {SETTING}.",
        hint=f"Use a public URL, or ask your operator to add the host (CIDR or host:port) to {SETTING}.",
        details={"egress": "refused", "host": host, "port": port},
    )


@lru_cache(maxsize=8)
def _policy(allow: tuple[str, ...], services: tuple[OwnService, ...]) -> EgressPolicy:
    return EgressPolicy(allow=allow, services=services)


def policy_for(settings: Settings) -> EgressPolicy:
    """The process's policy (cached per settings: its own services are resolved once)."""
    return _policy(tuple(settings.egress.allow), tuple(own_services(settings)))


# --- pinned connections: httpcore network backends ---------------------------------------------------


class GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: EgressPolicy) -> None:
        self.policy, self.inner = policy, httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.policy.aresolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from None
        error: Exception | None = None
        for address in self.policy.check(host, port, addresses):
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # check() returns at least one address
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("Unix sockets are local: workflow steps cannot use them.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedSyncBackend(httpcore.NetworkBackend):
    def __init__(self, policy: EgressPolicy) -> None:
        self.policy, self.inner = policy, httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.policy.resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from None
        error: Exception | None = None
        for address in self.policy.check(host, port, addresses):
            try:
                return self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise EgressRefused("Unix sockets are local: workflow steps cannot use them.")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def _pool_options(verify: ssl.SSLContext | bool, limits: httpx.Limits) -> dict[str, typing.Any]:
    context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
    return {
        "ssl_context": context,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class GuardedAsyncTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over the guarded backend; no proxy, whatever the environment says."""

    def __init__(
        self, policy: EgressPolicy, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None
    ) -> None:
        limits = limits or httpx.Limits()
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=GuardedAsyncBackend(policy), **_pool_options(verify, limits)
        )


class GuardedTransport(httpx.HTTPTransport):
    def __init__(
        self, policy: EgressPolicy, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None
    ) -> None:
        limits = limits or httpx.Limits()
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            network_backend=GuardedSyncBackend(policy), **_pool_options(verify, limits)
        )


def async_client(
    policy: EgressPolicy, *, timeout: float, verify: ssl.SSLContext | bool = True, **kwargs: typing.Any
) -> httpx.AsyncClient:
    """A client whose every connection is checked; it never follows redirects by itself (see `send`)."""
    return httpx.AsyncClient(
        transport=GuardedAsyncTransport(policy, verify=verify), timeout=timeout, trust_env=False, **kwargs
    )


def client(
    policy: EgressPolicy, *, timeout: float, verify: ssl.SSLContext | bool = True, **kwargs: typing.Any
) -> httpx.Client:
    return httpx.Client(transport=GuardedTransport(policy, verify=verify), timeout=timeout, trust_env=False, **kwargs)


async def send(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    follow_redirects: bool,
    allowed: Callable[[httpx.URL], None] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> httpx.Response:
    """Send `request` (streamed: the caller reads and closes the response), following redirects here,
    one hop at a time, so each hop's host is resolved and checked by the transport and `allowed` (e.g. a
    connection's base URL) sees every URL. httpx builds each next request: 303 becomes GET, and a
    cross-origin hop drops Authorization; `auth` is applied to the first request only."""
    for hop in range(max_redirects + 1):
        if allowed is not None:
            allowed(request.url)
        response = await http.send(request, stream=True, follow_redirects=False, auth=auth if hop == 0 else None)
        if not follow_redirects or not response.is_redirect or response.next_request is None:
            return response
        await response.aclose()
        request = response.next_request
        if request.url.scheme not in ("http", "https"):
            raise EgressRefused(
                f"A redirect led to a {request.url.scheme}: URL; only http and https are followed.",
                hint="Call the final URL directly.",
            )
    raise httpx.TooManyRedirects(f"more than {max_redirects} redirects", request=request)

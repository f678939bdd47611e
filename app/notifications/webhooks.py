"""Where a webhook may be sent: the host is resolved, and addresses that are not on the public
internet (loopback, link-local such as 169.254.169.254, private, shared, multicast, reserved) are
refused unless the body's profile allows them (`webhooks.allow`: networks or host names, for an
on-premise chat server in the LGWAN). Checked when the roster is imported and again at every
delivery, which then connects to the very address it checked (a name that resolves differently
the second time, DNS rebinding, gains nothing), and never follows a redirect."""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from app.core.playbooks import playbooks

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
TIMEOUT = 5  # seconds, connecting and answering


class WebhookRefused(Exception):
    """The URL may not be used; the message says why (for the roster's author and the log)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]  # the checked addresses the delivery connects to, in the resolver's order


def allow_list(organization_code: str) -> tuple[str, ...]:
    profile = playbooks().profiles.get(organization_code)
    return profile.webhooks.allow if profile is not None else ()


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _allowed(host: str, address: Address, allow: tuple[str, ...]) -> bool:
    for entry in allow:
        if "/" in entry or _is_address(entry):
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        elif host == entry:
            return True
    return False


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def resolve(url: str, allow: tuple[str, ...]) -> Target:
    """The URL's parts and the address to connect to; WebhookRefused when any address the host
    resolves to is not public and not allowed (a name must not mix the two)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("not an http(s) URL with a host")
    if parts.username or parts.password:
        raise WebhookRefused("credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused(f"bad port: {exc}") from None
    host = parts.hostname.lower().rstrip(".")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(f"host {host} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
    refused = [a for a in addresses if not _public(a) and not _allowed(host, a, allow)]
    if refused or not addresses:
        raise WebhookRefused(f"host {host} resolves to {', '.join(map(str, refused or addresses))}, which is not "
                             "a public address; allow it in the body's profile (webhooks.allow) if it is meant")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, tuple(map(str, addresses)))


def check_url(url: str, organization_code: str) -> None:
    resolve(url, allow_list(organization_code))


def _connect(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """The first of the checked addresses that answers (IPv6 first where the resolver says so)."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target):
        super().__init__(target.host, target.port, timeout=TIMEOUT)
        self._addresses = target.addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target):
        context = ssl.create_default_context()  # the certificate is checked against the URL's name
        if current_app.config.get("WEBHOOK_CA_FILE"):
            context.load_verify_locations(current_app.config["WEBHOOK_CA_FILE"])
        super().__init__(target.host, target.port, timeout=TIMEOUT, context=context)
        self._addresses = target.addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, allow: tuple[str, ...], body: bytes, headers: dict[str, str]) -> int:
    """POSTs to the checked address and answers the status; a redirect is an answer like any
    other (not followed). Raises WebhookRefused or OSError / http.client.HTTPException."""
    target = resolve(url, allow)
    connection = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()

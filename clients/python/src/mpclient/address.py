"""Broker addresses: ``tcp:HOST:PORT``, ``tls:HOST:PORT``, ``unix:PATH``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Address", "parse_address"]


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed broker address. ``scheme`` is ``"tcp"``, ``"tls"`` or
    ``"unix"``; ``host``/``port`` are set for tcp and tls, ``path`` for
    unix."""

    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}:{host}:{self.port}"


def parse_address(text: str) -> Address:
    """Parse ``tcp:HOST:PORT`` (``tcp:[::1]:7330`` for IPv6),
    ``tls:HOST:PORT`` or ``unix:PATH``; raise ``ValueError`` otherwise."""
    scheme, sep, rest = text.partition(":")
    if not sep or scheme not in ("tcp", "tls", "unix"):
        raise ValueError(
            f"bad broker address {text!r}: want tcp:HOST:PORT, tls:HOST:PORT or unix:PATH"
        )
    if scheme == "unix":
        if not rest:
            raise ValueError(f"bad broker address {text!r}: empty socket path")
        return Address("unix", path=rest)
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0 or rest[close + 1 : close + 2] != ":":
            raise ValueError(f"bad broker address {text!r}")
        host, port_text = rest[1:close], rest[close + 2 :]
    else:
        host, sep, port_text = rest.rpartition(":")
        if not sep or ":" in host:
            raise ValueError(f"bad broker address {text!r}: want {scheme}:HOST:PORT")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad broker address {text!r}: want {scheme}:HOST:PORT")
    return Address(scheme, host=host, port=int(port_text))

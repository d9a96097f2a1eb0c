"""The URIs printhost hands out, built from the name the client used to reach us (Host
header) and the ports we listen on, so printer-uri-supported and job-uri work from
wherever the client stands."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class Uris:
    host: str  # as the client named us, without port ("127.0.0.1", "printhost.example")
    plain_port: int | None
    tls_port: int | None
    scheme: str = "ipp"  # the scheme of the current request: "ipp" or "ipps"

    @property
    def _host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def _base(self, scheme: str) -> str:
        port = self.tls_port if scheme in ("ipps", "https") else self.plain_port
        return f"{scheme}://{self._host}:{port}"

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(s for s, p in (("ipp", self.plain_port), ("ipps", self.tls_port)) if p)

    def printer(self, queue: str, scheme: str | None = None) -> str:
        return f"{self._base(scheme or self.scheme)}/printers/{quote(queue)}"

    def printers_supported(self, queue: str) -> tuple[str, ...]:
        """printer-uri-supported: only the URI of the scheme the client used, as cupsd
        does - CUPS clients join several values into one comma-separated "URI"."""
        return (self.printer(queue),)

    def job(self, job_id: int) -> str:
        return f"{self._base(self.scheme)}/jobs/{job_id}"

    def web(self, path: str) -> str:
        scheme = "https" if self.scheme == "ipps" else "http"
        return f"{self._base(scheme)}{path}"

"""The misbehaving app behind TLS, with a certificate made for the test, and a record of the
Host header and SNI name every request arrived with (what an ALB routes and picks its
certificate by).

    authority = CertificateAuthority()               # a throwaway CA; trust it via SSL_CERT_FILE
    with running_tls_app(authority, ["api.example.test"], version="v2") as app:
        app.url_for_host("api.example.test")      # https://api.example.test:PORT/health
        app.hosts, app.sni_names                  # what reached the server

The app listens on 127.0.0.1 only; nothing resolves `api.example.test`, so a client reaches it
only by connecting to 127.0.0.1 while naming the host (the gate's `connect_to`).
"""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers.http_app import Behaviour, HttpApp, _Handler, _Server


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class CertificateAuthority:
    """A CA made for one test run; it signs server certificates for any names."""

    def __init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("releasegate test CA"))
            .issuer_name(_name("releasegate test CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip

    def write_bundle(self, folder: Path) -> Path:
        """The CA certificate as a PEM bundle (what SSL_CERT_FILE names)."""
        path = folder / "ca.pem"
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, folder: Path, names: Sequence[str]) -> tuple[Path, Path]:
        """A server certificate valid for `names` (DNS subject alternative names): (cert, key)."""
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        cert_path, key_path = folder / f"{names[0]}.pem", folder / f"{names[0]}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
        )  # fmt: skip
        return cert_path, key_path


class _RecordingHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802  (http.server dispatches by this name)
        app = self.server.app
        assert isinstance(app, HttpsApp)
        with app.seen_lock:
            app.hosts.append(self.headers.get("Host", ""))
        super().do_GET()


class _TlsServer(_Server):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a client that refuses the certificate ends the handshake, as expected."""


class HttpsApp(HttpApp):
    """`HttpApp` speaking TLS with the given certificate, recording Host headers and SNI."""

    def __init__(self, behaviour: Behaviour, cert: Path, key: Path) -> None:
        super().__init__(behaviour)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.context.sni_callback = self._record_sni
        self.seen_lock = threading.Lock()
        self.hosts: list[str] = []
        self.sni_names: list[str | None] = []

    def _record_sni(self, _sock: Any, name: str | None, _context: ssl.SSLContext) -> None:
        with self.seen_lock:
            self.sni_names.append(name)

    def url_for_host(self, host: str, path: str = "/health") -> str:
        return f"https://{host}:{self.port}{path}"

    def listen(self) -> None:
        if self._server is not None:
            return
        server = _TlsServer(("127.0.0.1", self.port), _RecordingHandler)
        # The handshake happens in the handler's thread, on its first read, so a client that
        # stalls or refuses the certificate never blocks the accepting loop.
        server.socket = self.context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.app = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02},
            name=f"https-app-{self.port}", daemon=True,
        )  # fmt: skip
        self._thread.start()


@contextmanager
def running_tls_app(
    authority: CertificateAuthority, folder: Path, names: Sequence[str], version: str = "v1"
) -> Iterator[HttpsApp]:
    """Start the HTTPS app with a certificate for `names` signed by `authority`; always stop."""
    cert, key = authority.issue(folder, names)
    app = HttpsApp(Behaviour(mode="healthy", version=version), cert, key)
    try:
        app.listen()
        yield app
    finally:
        app.stop()

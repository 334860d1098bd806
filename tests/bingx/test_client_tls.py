"""A money-moving call over TLS (as to the real BingX): an exchange that received the whole signed
request and then lost the TLS connection before answering may have moved the money, so the client
must say "outcome unknown" (reconcile), never "nothing sent" (which lets a worker send it again).
Only a failure before the handshake completed — the exchange's certificate refused — proves nothing
left the machine. Real TLS on loopback with a throw-away certificate; no mocks."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bingx import Ambiguous, Client, NotSent


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A throw-away CA (its certificate is what a client trusts) and a server certificate for
    127.0.0.1 it signed: (CA certificate file, server certificate + key file)."""
    now = dt.datetime.now(dt.UTC)

    def build(subject: str, issuer: x509.Name | None, signer: ec.EllipticCurvePrivateKey | None, ca: bool):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return key, builder.sign(signer or key, hashes.SHA256()), name

    ca_key, ca_cert, ca_name = build("test CA", None, None, True)
    key, cert, _ = build("127.0.0.1", ca_name, ca_key, False)
    ca_path, server_path = folder / "ca.pem", folder / "server.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_path, server_path


class DroppingTlsExchange:
    """Completes the TLS handshake and reads one whole HTTP request; then, by `ending`, "drop": closes
    the TCP connection without a TLS close_notify or an answer (a load balancer cut off mid-answer);
    "garbled": answers with bytes that are not a TLS record (a broken middlebox), so the client's TLS
    layer fails while reading the answer."""

    ending = "drop"

    def __init__(self, server_pem: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(server_pem)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            try:
                conn = self.context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                raw.close()  # the client refused our certificate: nothing came
                continue
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.received.append(head + b"\r\n\r\n" + body)
            # Leave TLS without close_notify: plain bytes where a TLS record belongs, or nothing.
            raw_socket = socket.socket(fileno=conn.detach())
            if self.ending == "garbled":
                raw_socket.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            raw_socket.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DroppingTlsExchange, Path]]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these override session.verify
        monkeypatch.delenv(name, raising=False)
    ca, server_pem = _certificate(tmp_path)
    server = DroppingTlsExchange(server_pem)
    yield server, ca
    server.close()


def _client(port: int, *, verify: Path | bool) -> Client:
    session = requests.Session()
    session.verify = str(verify) if isinstance(verify, Path) else verify
    return Client(
        "api-key-0001",
        "secret-0001",
        base_url=f"https://127.0.0.1:{port}",
        timeout=(2.0, 2.0),
        session=session,
    )


def _transfer(client: Client, *, client_id: str) -> None:
    """A money-moving call: 5 USDT to UID 12345678's funding wallet."""
    client.inner_transfer(
        coin="USDT",
        user_account_type=1,
        user_account=12345678,
        amount="5",
        wallet_type=1,
        transfer_client_id=client_id,
    )


@pytest.mark.parametrize("ending", ["drop", "garbled"])
def test_tls_lost_after_the_transfer_was_received_is_outcome_unknown(
    exchange: tuple[DroppingTlsExchange, Path], ending: str
) -> None:
    server, cert = exchange
    server.ending = ending
    client = _client(server.port, verify=cert)
    with pytest.raises(Ambiguous):
        _transfer(client, client_id="c1")
    assert len(server.received) == 1  # the exchange had the whole signed request
    assert b"/openApi/wallets/v1/capital/innerTransfer/apply" in server.received[0]


def test_certificate_refused_before_anything_is_sent_is_not_sent(
    exchange: tuple[DroppingTlsExchange, Path], tmp_path: Path
) -> None:
    server, _ = exchange
    (tmp_path / "other").mkdir()
    other_ca, _ = _certificate(tmp_path / "other")
    client = _client(server.port, verify=other_ca)  # trusts another CA: the handshake fails
    with pytest.raises(NotSent):
        _transfer(client, client_id="c2")
    assert server.received == []

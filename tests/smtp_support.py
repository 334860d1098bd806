"""A real SMTP server (aiosmtpd) in a thread on a free port, and Django pointed at it.

`SmtpInbox` collects every message the server received: envelope recipients, subject, body.
The `smtp_inbox` fixture (tests/conftest.py) starts one per test and switches Django to its SMTP
backend, so the emails go over a real SMTP conversation, not the locmem outbox.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    to: list[str]
    subject: str
    body: str


@dataclass
class SmtpInbox:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self.lock:
            self.messages.append(
                Received(
                    sender=envelope.mail_from,
                    to=list(envelope.rcpt_tos),
                    subject=str(parsed["Subject"]),
                    body=text,
                )
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.to]

    def subjects(self, address: str) -> list[str]:
        return [m.subject for m in self.to(address)]

    def wait_for(self, address: str, contains: str, timeout: float = 10.0) -> Received:
        """The first message to `address` whose subject contains `contains`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.to(address) if contains in m.subject]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no email to {address} with {contains!r}; got {self.subjects(address)}")

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


def _free_port() -> int:
    # aiosmtpd's start() connects to its own port to check it is up, so port=0 cannot be passed on.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_start() -> tuple[Controller, SmtpInbox]:
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    return controller, inbox

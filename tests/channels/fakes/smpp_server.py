"""A small SMSC on loopback, built with smpplib's PDU classes, for the SMPP adapter tests.

It answers bind_transceiver (checking credentials), submit_sm (message ids ``0000000A``...,
or scripted error statuses, or silence), enquire_link and unbind; it can push deliver_sm PDUs
(inbound texts and delivery receipts) to the bound client and drop every connection.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smpplib import consts, smpp
from smpplib.client import SimpleSequenceGenerator

SILENT = -1  # scripted "never answer this submit_sm"


@dataclass
class Submitted:
    source_addr: str
    source_addr_ton: int
    destination_addr: str
    dest_addr_ton: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    validity_period: str
    message_id: str


class _Session:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.sequences = SimpleSequenceGenerator()
        self.bound = False

    def send(self, pdu: Any) -> None:
        with self.lock:
            self.sock.sendall(pdu.generate())

    def read(self) -> Any:
        header = self._exact(4)
        (length,) = struct.unpack(">L", header)
        return smpp.parse_pdu(header + self._exact(length - 4), client=self.sequences, allow_unknown_opt_params=True)

    def _exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("peer closed")
            data += chunk
        return data


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


class FakeSmsc:
    def __init__(self, *, system_id: str = "relais", password: str = "secret") -> None:
        self.system_id = system_id
        self.password = password
        self.submitted: list[Submitted] = []
        self.deliver_acks: list[tuple[int, int]] = []  # (sequence, status)
        self.enquire_links = 0
        self.submit_requests = 0
        self.mute = False  # read PDUs but answer nothing, like a hung SMSC
        self.binds = 0
        self.refused_binds = 0
        self._script: deque[int] = deque()
        self._ids = itertools.count(10)
        self._sessions: list[_Session] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    # -- test controls -------------------------------------------------------------------

    def script(self, *statuses: int) -> None:
        """Answer the next submit_sm PDUs with these command statuses (``SILENT`` = no answer)."""
        with self._lock:
            self._script.extend(statuses)

    def deliver(self, **fields: Any) -> int:
        """Push a deliver_sm to the bound session; returns its sequence number."""
        session = self._bound_session()
        pdu = smpp.make_pdu("deliver_sm", client=session.sequences, **fields)
        session.send(pdu)
        return int(pdu.sequence)

    def drop(self) -> None:
        """Close every client connection abruptly."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.sock.close()

    def stop(self) -> None:
        self._running = False
        # shutdown wakes the thread blocked in accept(); close alone leaves the socket listening
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.drop()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.01)

    def _bound_session(self) -> _Session:
        with self._lock:
            for session in self._sessions:
                if session.bound:
                    return session
        raise AssertionError("no bound session")

    # -- server --------------------------------------------------------------------------

    def _accept(self) -> None:
        while self._running:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            session = _Session(sock)
            with self._lock:
                self._sessions.append(session)
            threading.Thread(target=self._serve, args=(session,), daemon=True).start()

    def _serve(self, session: _Session) -> None:
        try:
            while True:
                pdu = session.read()
                if not self._handle(session, pdu):
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            session.sock.close()

    def _reply(self, session: _Session, command: str, request: Any, status: int = 0, **fields: Any) -> None:
        response = smpp.make_pdu(command, client=session.sequences, status=status, **fields)
        response.sequence = request.sequence
        session.send(response)

    def _handle(self, session: _Session, pdu: Any) -> bool:
        command = pdu.command
        if self.mute:
            return True
        if command == "bind_transceiver":
            ok = _text(pdu.system_id) == self.system_id and _text(pdu.password) == self.password
            status = 0 if ok else consts.SMPP_ESME_RINVPASWD
            if ok:  # mark bound before answering: the client may act on the answer at once
                session.bound = True
                self.binds += 1
            else:
                self.refused_binds += 1
            self._reply(session, "bind_transceiver_resp", pdu, status=status, system_id="fakesmsc")
            return ok
        elif command == "submit_sm":
            self._submit(session, pdu)
        elif command == "enquire_link":
            self.enquire_links += 1
            self._reply(session, "enquire_link_resp", pdu)
        elif command == "deliver_sm_resp":
            self.deliver_acks.append((pdu.sequence, pdu.status))
        elif command == "unbind":
            self._reply(session, "unbind_resp", pdu)
            return False
        return True

    def _submit(self, session: _Session, pdu: Any) -> None:
        with self._lock:
            self.submit_requests += 1
            status = self._script.popleft() if self._script else 0
        if status == SILENT:
            return
        message_id = f"{next(self._ids):08X}" if status == 0 else ""
        if status == 0:
            self.submitted.append(
                Submitted(
                    source_addr=_text(pdu.source_addr),
                    source_addr_ton=pdu.source_addr_ton or 0,
                    destination_addr=_text(pdu.destination_addr),
                    dest_addr_ton=pdu.dest_addr_ton or 0,
                    esm_class=pdu.esm_class or 0,
                    data_coding=pdu.data_coding or 0,
                    registered_delivery=pdu.registered_delivery or 0,
                    short_message=pdu.short_message or b"",
                    validity_period=_text(pdu.validity_period),
                    message_id=message_id,
                )
            )
        self._reply(session, "submit_sm_resp", pdu, status=status, message_id=message_id)

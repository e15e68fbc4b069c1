"""The benchmarks' fake Vonage SMS API: its answers, its counting in Redis, its signed reports and their retries.

A report dropped after two refusals left a campaign bench waiting for it until its stall timeout
(485 messages stuck ``sent`` on a machine at load average 17), with no reason given. The fake now
counts calls in batches, so a report must not reach the API before its call is counted: a bench that
saw every report then reads every call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import redis as redis_lib
from vonage_sms import SmsMessage

from bench import fake_provider
from bench.loadgen import sign_sms
from channels.vonage import VonageConfig, sdk_client


async def _refusing_server(refusals: int) -> tuple[asyncio.Server, list[int]]:
    """A bare HTTP server answering 503 to its first ``refusals`` posts, then 200; it records each status."""
    answered: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            lines = head.lower().split(b"\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in lines if line.startswith(b"content-length:"))
            await reader.readexactly(length)
            status = 503 if len(answered) < refusals else 200
            answered.append(status)
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), answered


async def _deliver(refusals: int, wait: float, **poster_options: object) -> tuple[list[int], int]:
    server, answered = await _refusing_server(refusals)
    port = server.sockets[0].getsockname()[1]
    poster = fake_provider.ReportPoster(**poster_options)  # type: ignore[arg-type]
    poster.post(f"http://127.0.0.1:{port}/webhooks/vonage/status", b"status=delivered")
    await asyncio.sleep(wait)
    server.close()
    return answered, poster.dropped


def test_a_refused_report_is_posted_again_later_until_accepted() -> None:
    # each round tries twice (a closed keep-alive connection); refused twice at once, twice again after 1 s,
    # accepted in the round 2 s later
    assert asyncio.run(_deliver(refusals=4, wait=3.6)) == ([503, 503, 503, 503, 200], 0)


def test_an_accepted_report_is_posted_once() -> None:
    assert asyncio.run(_deliver(refusals=0, wait=0.3)) == ([200], 0)


def test_a_report_refused_through_every_round_is_dropped_after_the_last() -> None:
    delays: list[int] = []

    def delay(rounds: int) -> float:
        delays.append(rounds)
        return 0.01

    answered, dropped = asyncio.run(_deliver(refusals=100, wait=1.0, retry_delay=delay))
    assert answered == [503] * 2 * (fake_provider.REPORT_RETRY_ROUNDS + 1)
    assert delays == list(range(fake_provider.REPORT_RETRY_ROUNDS)) and dropped == 1


def test_vonage_retry_schedule_is_1_2_4_to_32_seconds() -> None:
    poster = fake_provider.ReportPoster()
    assert [poster.retry_delay(r) for r in range(poster.retry_rounds)] == [1, 2, 4, 8, 16, 32]


def test_a_report_whose_server_is_not_there_yet_is_posted_once_it_listens() -> None:
    async def run() -> list[int]:
        server, answered = await _refusing_server(0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        poster = fake_provider.ReportPoster(retry_delay=lambda rounds: 0.3)
        poster.post(f"http://127.0.0.1:{port}/status", b"status=delivered")
        await asyncio.sleep(0.1)
        server = await asyncio.start_server(
            lambda r, w: _answer_once(r, w, answered), "127.0.0.1", port, reuse_address=True
        )
        await asyncio.sleep(0.5)
        server.close()
        return answered

    assert asyncio.run(run()) == [200]


async def _answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answered: list[int]) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.lower().split(b"\r\n") if b"content-length" in line)
    await reader.readexactly(length)
    answered.append(200)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


def test_the_report_body_is_what_urlencode_of_the_signed_fields_gives() -> None:
    form = {"to": "33612345678", "from": "Maison & Co", "client-ref": "relais-12=a+b", "api_key": "k/ey"}
    body = fake_provider.delivery_report(form, "0A1B", api_key="k/ey", secret="s3cret")
    fields = dict(parse_qsl(body.decode()))
    unsigned = {k: v for k, v in fields.items() if k != "sig"}
    assert body.decode() == urlencode(sign_sms(unsigned, "s3cret"))
    assert (fields["msisdn"], fields["to"], fields["client-ref"], fields["status"]) == (
        "33612345678", "Maison & Co", "relais-12=a+b", "delivered"
    )  # fmt: skip


@pytest.mark.parametrize(
    "body", [b"a=1&b=x%26y&c=d+e&&empty=&noeq&%6Bey=v&t=%C3%A9t%C3%A9", b"", b"to=33600000000&text=Hi+there%21"]
)
def test_the_form_is_read_as_parse_qsl_reads_it(body: bytes) -> None:
    assert fake_provider.parse_form(body) == dict(parse_qsl(body.decode()))


class _Receiver(BaseHTTPRequestHandler):
    """Records each report with the calls counted in Redis when it arrived."""

    reports: list[tuple[dict[str, str], dict[str, int]]] = []
    redis_url = ""

    def do_POST(self) -> None:
        form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode(), keep_blank_values=True))
        self.reports.append((form, fake_provider.calls(redis_lib.Redis.from_url(self.redis_url))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(redis_url: str) -> Iterator[str]:
    _Receiver.reports, _Receiver.redis_url = [], redis_url
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/vonage/status"
    server.shutdown()


def test_the_sdk_reads_its_answers_and_every_call_is_counted_before_its_report(
    tmp_path: Path, redis_url: str, receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    client.delete(fake_provider.CALLS_KEY, fake_provider.ARRIVALS_KEY)
    process, host, ca = fake_provider.start(
        directory=tmp_path, redis_url=redis_url, processes=2, signature_secret="report-secret"
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    try:
        config = VonageConfig(api_key="key1", api_secret="secret1", api_host=host, rest_host=host,
                              status_webhook_url=receiver)  # fmt: skip
        sms = sdk_client(config).sms
        sent = [("33611111111", "ref-1"), ("33622222222", "ref-2"), ("33611111111", "ref-3"), ("33633333333", "ref-1")]
        answers = []
        for to, ref in sent:
            response = sms.send(SmsMessage(to=to, from_="38100", text="Soldes -20 % & plus", client_ref=ref,
                                           status_report_req=True, callback=receiver))  # fmt: skip
            answers.append(response.messages[0])
        assert [(a.to, a.client_ref, a.status) for a in answers] == [(to, ref, "0") for to, ref in sent]
        assert len({a.message_id for a in answers}) == 4
        reports = _wait_for(lambda: len(_Receiver.reports) >= 4 or None)
        assert reports
    finally:
        process.terminate()  # the first process stops the one it forked, then exits
        process.wait(10)
    assert _wait_for(lambda: not _processes_serving(tmp_path) or None)
    assert fake_provider.calls(client) == {"ref-1": 2, "ref-2": 1, "ref-3": 1}
    arrived = fake_provider.arrivals(client)
    assert sorted(arrived) == ["33611111111", "33622222222", "33633333333"]
    assert arrived["33611111111"] < arrived["33622222222"]  # the first arrival per number is kept
    by_id = {form["messageId"]: (form, counted) for form, counted in _Receiver.reports}
    assert sorted(by_id) == sorted(a.message_id for a in answers)
    for answer in answers:
        form, counted_then = by_id[answer.message_id]
        assert counted_then.get(form["client-ref"], 0) >= 1  # counted in Redis before the report was posted
        assert (form["msisdn"], form["to"], form["client-ref"], form["status"]) == (
            answer.to, "38100", answer.client_ref, "delivered"
        )  # fmt: skip
        signature = form.pop("sig")
        assert hmac.compare_digest(signature, sign_sms(form, "report-secret")["sig"])
        assert len(signature) == hashlib.sha256().digest_size * 2
    client.delete(fake_provider.CALLS_KEY, fake_provider.ARRIVALS_KEY)


def _wait_for(check: Callable[[], bool | None], seconds: float = 10.0) -> bool | None:
    """Poll ``check`` until it holds (the reports come back asynchronously); ``None`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    return None


def _processes_serving(directory: Path) -> list[int]:
    """Processes still running the fake with ``directory``'s certificate (a forked one left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(directory).encode() in command and b"bench.fake_provider" in command and state != "Z":
            found.append(int(entry.name))
    return found

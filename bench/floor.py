"""The floor of the campaign path: everything in it that is not Relais, on the same machine, in the same run.

A campaign message costs processor time in Relais (API, workers, PostgreSQL) and in things Relais
cannot avoid: the Vonage SDK building and sending the request over TLS, the provider answering,
the provider's signed delivery report, and a web server receiving and checking it. This measures
those alone, so the campaign benchmark can say how far Relais is from the best this machine could
do, and whether a target is reachable at all:

* **senders**: ``workers`` processes (``python -m bench.floor send``), each sending in as many
  threads as a worker's delivery engine has lanes (``RELAIS_SEND_CONCURRENCY``), through the real
  SDK client built as the adapter builds it (:func:`channels.vonage.sdk_client`: same pool, TLS,
  timeout, no SDK retries), an SMS API
  request each as the adapter makes it (``status-report-req`` and the receiver as ``callback``) and
  sends it (:func:`channels.vonage.sms_api_send`: the SDK's HTTP client, checks and response model,
  the request model validated once per shape);
* the **fake provider** of the stack (``bench/fake_provider.py``), which answers, counts in Redis
  and posts a signed ``delivered`` report for each message;
* the **receiver** (:data:`app`, its own uvicorn process): a bare ASGI app that checks each report's
  signature with the SDK's signing (``Auth.sign_params``, constant-time compare) and answers 200,
  counting what it got. No FastAPI, no database, no queue.

Processor time of all those processes (and the shared Redis server) is read with
:class:`bench.cpu.CpuMeter` from the moment every sender is ready (imports done) to the moment the
last report was received, and divided by the messages sent.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx

from bench import fake_provider
from bench.cpu import CpuMeter

REPO = Path(__file__).resolve().parents[1]
TEXT = "Maison Lumière: -20% ce week-end sur les lampes, code SOLDES20"


_received = {"good": 0, "bad": 0}
_signer: Any = None


def send_threads() -> int:
    """Provider calls a worker has in flight: ``RELAIS_SEND_CONCURRENCY``'s default (the layout's
    workers get no ``RELAIS_`` variable from the bench's environment)."""
    from core.settings import Settings

    return int(Settings.model_fields["send_concurrency"].default)


def _verify(params: dict[str, str]) -> bool:
    global _signer
    if _signer is None:
        from vonage_http_client import Auth

        _signer = Auth(api_key="floor", signature_secret=os.environ["BENCH_FLOOR_SECRET"], signature_method="sha256")
    signature = params.pop("sig", "").lower()
    return hmac.compare_digest(signature.encode(), _signer.sign_params(params).encode())


async def app(scope: dict[str, Any], receive: fake_provider.Receive, send: fake_provider.Send) -> None:
    """The bare report receiver: POST a signed SMS API report → 200 (401 if the signature is wrong);
    GET → the counts so far as JSON."""
    if scope["type"] != "http":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = await fake_provider.read_body(receive)
    status, payload = 200, b"{}"
    if scope["method"] == "GET":
        payload = json.dumps(_received).encode()
    elif _verify(dict(parse_qsl(body.decode(), keep_blank_values=True))):
        _received["good"] += 1
    else:
        _received["bad"] += 1
        status = 401
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _send(host: str, callback: str, threads: int, seconds: float, prefix: str) -> None:
    """A sender process: build the client, say ``ready``, wait for ``go``, send for ``seconds`` in
    ``threads`` threads, print ``sent N``, then wait for ``exit`` (so its processor time is read alive)."""
    from channels.vonage import VonageConfig, sdk_client, sms_api_params, sms_api_send
    from core.settings import get_settings

    settings = get_settings()
    config = VonageConfig(api_key=settings.vonage_api_key, api_secret=settings.vonage_api_secret,
                          api_host=host, rest_host=host, status_webhook_url=callback)  # fmt: skip
    client = sdk_client(config)
    counts = [0] * threads

    def lane(index: int, stop: float) -> None:
        n = 0
        while time.perf_counter() < stop:
            sms_api_send(client, sms_api_params(to=f"336{index:02d}{n:06d}", from_="38100", text=TEXT, type="text",
                                                client_ref=f"{prefix}-{index}-{n}", ttl=None, callback=callback))
            n += 1
        counts[index] = n

    print("ready", flush=True)
    sys.stdin.readline()
    stop = time.perf_counter() + seconds
    pool = [threading.Thread(target=lane, args=(i, stop)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    print(f"sent {sum(counts)}", flush=True)
    sys.stdin.readline()


@dataclass(frozen=True)
class Floor:
    """What the floor measured: messages, seconds (go → last report), reports, processor seconds by process."""

    messages: int
    seconds: float
    reports: int
    bad_signatures: int
    cpu: dict[str, float]

    @property
    def ms_per_message(self) -> float:
        return 1000 * sum(self.cpu.values()) / max(self.messages, 1)

    def capacity(self, cores: int) -> float:
        """msg/s the machine's cores could carry if each message cost the floor's processor time."""
        return cores * 1000 / self.ms_per_message if self.ms_per_message else 0.0


def measure(
    *, env: dict[str, str], provider_host: str, provider_session: int, senders: int, seconds: float,
    secret: str, report_timeout: float = 60.0,
) -> Floor:  # fmt: skip
    """Run the floor against the stack's fake provider (see the module docstring)."""
    port = fake_provider.free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env={**env, "BENCH_FLOOR_SECRET": secret}, cwd=REPO, start_new_session=True,
    )  # fmt: skip
    callback = f"http://127.0.0.1:{port}/"
    threads = send_threads()
    processes: list[subprocess.Popen[str]] = []
    try:
        fake_provider.wait_for_port(port)
        for index in range(senders):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "bench.floor", "send", "--host", provider_host, "--callback", callback,
                 "--threads", str(threads), "--seconds", str(seconds), "--prefix", f"floor{index}"],
                env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
            ))  # fmt: skip
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a floor sender failed to start")
        sessions = {f"sender {i}": p.pid for i, p in enumerate(processes)}
        meter = CpuMeter({**sessions, "receiver": receiver.pid, "fake provider": provider_session}, None)
        meter.start()
        started = time.perf_counter()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        sent = 0
        for process in processes:
            assert process.stdout is not None
            sent += int(process.stdout.readline().split()[1])
        counts = {"good": 0, "bad": 0}
        deadline = time.perf_counter() + report_timeout
        with httpx.Client(base_url=callback) as client:
            while counts["good"] + counts["bad"] < sent and time.perf_counter() < deadline:
                time.sleep(0.05)
                counts = client.get("/").json()
        ended = time.perf_counter()
        meter.stop()
        return Floor(messages=sent, seconds=ended - started, reports=counts["good"], bad_signatures=counts["bad"],
                     cpu=meter.spent())  # fmt: skip
    finally:
        for process in processes:
            if process.stdin is not None and process.poll() is None:
                process.stdin.write("exit\n")
                process.stdin.close()
            process.wait(30)
        receiver.terminate()
        receiver.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a floor sender process (run by bench.floor.measure)")
    parser.add_argument("role", choices=["send"])
    parser.add_argument("--host", required=True)
    parser.add_argument("--callback", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args(argv)
    _send(args.host, args.callback, args.threads, args.seconds, args.prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Console targets: escalation-to-console latency and page render time with 1,000 open conversations.

    python -m bench.console [--escalations 20] [--conversations 1000] [--renders 20]

Runs the real app in this process on a fresh data directory (SQLite + embedded Redis): uvicorn on
a loopback port, one RQ worker thread (as ``relais run``), an online agent with an open SSE
stream. Each escalation is timed from the simulator's inbound webhook (``POST
/api/v1/simulator/inbound``, the provider-webhook path) to the ``conversation.escalated`` event on
the agent's stream. Page render time is the server's own time per console page (the app's
Prometheus request histogram is not needed: the TestClient call is in-process, no network).
Targets: escalation visible <= 1 s; pages <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path


def _configure(data_dir: Path) -> None:
    os.environ["RELAIS_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("RELAIS_LOG_LEVEL", "WARNING")
    os.environ["RELAIS_LOG_JSON"] = "false"
    os.environ["HF_HUB_OFFLINE"] = "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   max {ordered[-1]:7.1f} ms"


def seed(count: int, agent_id: int) -> int:
    """``count`` open conversations (a third queued, a third with the agent, a third with the bot)."""
    from contacts.service import get_or_create_by_phone
    from conversations.models import Conversation, Message
    from core import db
    from core.db import utcnow
    from handoff.models import Escalation

    with db.session_scope() as session:
        first = 0
        for index in range(count):
            contact, _ = get_or_create_by_phone(session, phone_e164=f"+3361{index:07d}", language="fr")
            state = ("queued", "human", "bot")[index % 3]
            conversation = Conversation(
                contact_id=contact.id,
                sender="RELAIS",
                language="fr",
                state=state,
                assigned_user_id=agent_id if state == "human" else None,
            )
            session.add(conversation)
            session.flush()
            first = first or conversation.id
            session.add(
                Message(
                    conversation_id=conversation.id,
                    contact_id=contact.id,
                    direction="in",
                    body=f"Bonjour, où est ma commande {index} ?",
                    status="received",
                    analysis={"language": {"code": "fr", "confidence": 0.99}, "intent": {"name": "order_status"}},
                )
            )
            if state != "bot":
                now = utcnow()
                session.add(
                    Escalation(
                        conversation_id=conversation.id,
                        status="open" if state == "queued" else "assigned",
                        reason_code="human_requested",
                        priority=2,
                        language="fr",
                        assigned_user_id=conversation.assigned_user_id,
                        assigned_at=now if state == "human" else None,
                        sla_due_at=now,
                    )
                )
        return first


def bench_pages(conversations: int, renders: int, agent: tuple[int, str, str]) -> None:
    import pyotp
    from fastapi.testclient import TestClient

    from api.app import create_app

    user_id, email, secret = agent
    first = seed(conversations, user_id)
    with TestClient(create_app()) as client:
        client.post("/api/v1/auth/login", json={"email": email, "password": "bench password 123"})
        client.post("/api/v1/auth/2fa/verify", json={"code": pyotp.TOTP(secret).now()})
        html = {"Accept": "text/html"}
        pages = {
            "inbox (all)": "/console/inbox?view=all",
            "inbox (mine)": "/console/inbox?view=mine",
            "inbox (unassigned)": "/console/inbox?view=unassigned",
            "conversation": f"/console/conversations/{first + 1}?view=mine",
            "inbox fragment": "/console/fragments/inbox?view=unassigned",
            "supervisor": "/console/supervisor",
        }
        print(f"\nPage render time with {conversations} open conversations ({renders} renders each, target 200 ms)")
        for name, path in pages.items():
            assert client.get(path, headers=html).status_code == 200, path
            samples = []
            for _ in range(renders):
                start = time.perf_counter()
                response = client.get(path, headers=html)
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            print(f"  {name:<20} {_figures(samples)}")


def bench_escalations(count: int, agent: tuple[int, str, str]) -> None:
    import httpx
    import uvicorn

    from agent.runtime import get_runtime
    from api.app import create_app
    from core import accounts, db
    from workers.runner import BackgroundWorkers

    get_runtime().pipeline().analyze("warm up the models")
    with db.session_scope() as session:
        _, key = accounts.create_api_key(session, name="bench", role="agent")
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=_free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{config.port}"
    samples: list[float] = []
    with BackgroundWorkers(1, with_scheduler=False), httpx.Client(base_url=base, timeout=10) as client:
        headers = {"Authorization": f"Bearer {key}"}
        with client.stream("GET", "/console/stream", headers=headers) as stream:
            lines = stream.iter_lines()
            next(lines), next(lines)  # retry + connected
            for index in range(count):
                phone = f"+3362{index:07d}"
                start = time.perf_counter()
                sent = client.post(
                    "/api/v1/simulator/inbound", json={"from": phone, "body": "I want to talk to a human"}
                )
                assert sent.status_code == 202, sent.text
                event = ""
                for line in lines:
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: ") and event == "conversation.escalated":
                        samples.append((time.perf_counter() - start) * 1000)
                        json.loads(line.removeprefix("data: "))
                        break
    server.should_exit = True
    thread.join(10)
    print(f"\nInbound webhook -> escalation on the agent's live stream ({count} texts, target 1000 ms)")
    print(f"  {'escalation visible':<20} {_figures(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--escalations", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relais-bench-console-") as tmp:
        _configure(Path(tmp))
        from core import accounts, db
        from core.runtime import bootstrap
        from core.schema import load_models
        from core.security import totp
        from handoff.models import AgentProfile

        bootstrap()
        load_models().create_all(db.engine())
        with db.session_scope() as session:
            user = accounts.create_user(session, email="bench@example.com", password="bench password 123", role="agent")
            secret = totp.new_enrolment(user.email).secret
            user.totp_secret = secret  # confirmed at once
            session.add(AgentProfile(user_id=user.id, status="online", languages=["en", "fr"], max_concurrent=10_000))
            agent = (user.id, user.email, secret)
        bench_escalations(args.escalations, agent)
        bench_pages(args.conversations, args.renders, agent)


if __name__ == "__main__":
    main()

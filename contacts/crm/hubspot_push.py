"""HubSpot push: the consent changes made in Relais written back, 100 contacts a request.

One PATCH per contact made a 30,000-change push 30,000 requests against HubSpot's limit of about 100 per 10 s:
most of an hour, mostly waiting out 429s. The batch update takes :data:`BATCH_SIZE` a request; a contact HubSpot no
longer has is named in its answer and passed, the others written. The values, the cursor and the retries are those
of :mod:`contacts.crm.hubspot`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from hubspot import HubSpot
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput
from sqlalchemy.orm import Session

from contacts.crm import hubspot as base
from contacts.crm.hubspot import (
    DECLINED,
    OPTED_IN,
    OPTED_OUT,
    PUSH_CURSOR,
    REQUEST_TIMEOUT,
    HubSpotConfig,
    SyncResult,
    _cursor,
    _failure,
    _pace,
    _unpushed,
    make_client,
)
from core.pace import Pace
from core.retry import CallFailed, Failure, RetryPolicy

#: inputs per batch update (HubSpot takes at most 100)
BATCH_SIZE = 100


def _not_found(exc: Exception) -> list[str]:
    """The ids a refused batch names as not in HubSpot (deleted or merged there), from its error body."""
    try:
        body = json.loads(getattr(exc, "body", None) or "{}")
    except ValueError:
        return []
    if not isinstance(body, dict) or body.get("category") != "OBJECT_NOT_FOUND":
        return []
    return [str(i) for i in (body.get("context") or {}).get("ids") or []]


def _write_batch(api: Any, config: HubSpotConfig, batch: dict[str, str], *, retrying: RetryPolicy, pace: Pace,
                 result: SyncResult) -> int:
    """Write ``batch`` (HubSpot id -> consent value, at most :data:`BATCH_SIZE`) in one batch update; returns how
    many were written. A contact HubSpot no longer has is listed in ``result.invalid`` and left out: HubSpot answers
    207 with the others written, or refuses the call naming the ids (then the others are sent again without them).

    Raises:
        CallFailed: the call still failed (``result.invalid`` holds the ones found missing so far).
    """
    pending = dict(batch)
    missing: list[str] = []  # the ids a refused call named

    def failure(exc: Exception) -> Failure | None:
        missing.extend(_not_found(exc))
        return _failure(exc)

    while pending:
        missing.clear()
        inputs = [SimplePublicObjectBatchInput(id=i, properties={config.consent_property: v})
                  for i, v in pending.items()]
        call = partial(api.update, BatchInputSimplePublicObjectBatchInput(inputs=inputs),
                       _request_timeout=REQUEST_TIMEOUT)
        first = next(iter(pending))
        try:
            answer = retrying.call(f"POST contacts batch/update of {len(inputs)} from contact {first}",
                                   pace.paced(call), failure=failure, tally=result.calls)
        except CallFailed:
            gone = [i for i in pending if i in set(missing)]
            if not gone:
                raise
            _drop(pending, gone, result)
            continue  # refused whole, naming the missing: the others again, without them
        # 200, or 207 with the others written and an error naming the ones it does not have
        _drop(pending, [str(i) for error in getattr(answer, "errors", None) or []
                        if getattr(error, "category", "") == "OBJECT_NOT_FOUND"
                        for i in (error.context or {}).get("ids", [])], result)
        return len(pending)
    return 0


def _drop(pending: dict[str, str], gone: list[str], result: SyncResult) -> None:
    """Leave out of a push the contacts HubSpot no longer has, listing each in ``result.invalid``."""
    for hubspot_id in gone:
        if pending.pop(hubspot_id, None) is not None:
            result.invalid.append({"hubspot_id": hubspot_id, "message": "not in HubSpot (deleted or merged "
                                   "there): its consent was not written"})


def push_opt_outs(
    session: Session,
    config: HubSpotConfig,
    *,
    client: HubSpot | None = None,
    policy: RetryPolicy | None = None,
    result: SyncResult | None = None,
    checkpoint: Callable[[], None] | None = None,
    pace: Pace | None = None,
) -> int:
    """Write to HubSpot the consent of each contact whose consent changed in Relais since the last push (a
    STOP, declined marketing, an opt-in); returns how many contacts were written (added to ``result.pushed``).

    The value written is the contact's consent now (``opted_out``, ``declined``, ``opted_in``), once
    per contact, so a change undone before the push is not written, and a pull reads back what was written. The
    writes go :data:`BATCH_SIZE` at a time through HubSpot's batch update (one request per contact made a
    30,000-change push 30,000 requests, most of an hour against a limit of about 100 per 10 s). The cursor
    advances only past events whose batch was written (or that need no write), so a HubSpot outage or a rate
    limit that does not lift leaves the rest for the next run, and nothing is written twice. A contact HubSpot
    no longer has (deleted or merged there) is reported in ``result.invalid`` and passed, the others written.
    ``checkpoint`` (the job's ``session.commit``) is called after each batch. (Named for what it first pushed:
    the route and job call it so.)

    Raises:
        SyncInterrupted: a batch still failed after :data:`~contacts.crm.hubspot.POLICY`'s retries, or HubSpot
            refused it (an option missing from the property: named); earlier batches of this run are kept with the
            cursor.
    """
    api = (client or make_client(config)).crm.contacts.batch_api
    result = result if result is not None else SyncResult()
    retrying = policy or base.POLICY  # read at the call, as the pull reads it (a test may set it)
    pacing = _pace(config, pace)
    cursor = _cursor(session, PUSH_CURSOR, "0")
    done: set[str] = set()
    written = 0
    batch: dict[str, str] = {}
    upto = int(cursor.value or 0)  # the last event read before the batch's next one

    def send() -> None:
        nonlocal written
        try:
            written += _write_batch(api, config, batch, retrying=retrying, pace=pacing, result=result)
        except CallFailed as exc:
            session.flush()
            result.pushed += written
            first = next(iter(batch))
            kept = (f"Kept: {written} consent changes written in this run; the next sync resumes the push at "
                    f"contact {first}")
            if exc.status == 400:  # a property made for opted_in / opted_out only refuses declined
                values = ", ".join(sorted({f"{config.consent_property}={v}" for v in batch.values()}))
                others = f" and {len(batch) - 1} others" if len(batch) > 1 else ""
                kept = (f"HubSpot refused {values} for contact {first}{others} (400): the property needs the options "
                        f"{OPTED_IN}, {DECLINED} and {OPTED_OUT}. {kept}")
            raise result.interrupted(exc, kept) from None
        done.update(batch)
        batch.clear()
        cursor.value = str(upto)
        session.flush()
        if checkpoint is not None:
            checkpoint()

    for event_id, hubspot_id, value in _unpushed(session, upto):
        if hubspot_id and value and hubspot_id not in done and hubspot_id not in batch:
            if len(batch) == BATCH_SIZE:
                send()
            batch[hubspot_id] = value
        upto = event_id
    if batch:
        send()
    cursor.value = str(upto)
    session.flush()
    result.pushed += written
    return written

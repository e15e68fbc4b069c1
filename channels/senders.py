"""Sender management and selection: which of our numbers texts a given contact.

Selection rules, in order: the contact's sticky sender (the one that last talked to them, if it
is still active and fits), else an active sender for the destination country with the needed
capability (``mms`` for media), else an active any-country sender. Several senders of the same
tier (say three short codes for FR) share the contacts by contact id, so a new contact always
lands on the same one and the load spreads across them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.models import CAPABILITIES, SENDER_KINDS, SENDER_STATUSES, ProviderAccount, Sender
from channels.phone import normalize_e164
from channels.simulator import SIMULATOR_NUMBER
from core.errors import Conflict, NotFound, ValidationFailed

#: Rate of a provider account nobody configured (messages/s); Vonage's default account rate is 30.
DEFAULT_ACCOUNT_RATE = 30.0
#: The simulator has no carrier behind it: its default sender and account are fast.
SIMULATOR_RATE = 1000.0

_ALNUM = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{3,11}$")
_SHORT_CODE = re.compile(r"^[0-9]{5,6}$")


@dataclass(frozen=True)
class SenderChoice:
    """What the delivery engine needs about a sender (safe to pass between threads)."""

    address: str
    throughput: float
    provider_account: str


def _choice(sender: Sender) -> SenderChoice:
    return SenderChoice(sender.address, sender.throughput, sender.provider_account)


def validate_address(kind: str, address: str, *, region: str | None = None) -> str:
    """Normalise ``address`` for ``kind``.

    Raises:
        ValidationFailed: unknown kind, or an address that does not fit it (named ``address``).
    """
    if kind not in SENDER_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(SENDER_KINDS)}", errors=[{"field": "kind"}])
    value = address.strip()
    if kind == "short_code":
        if not _SHORT_CODE.match(value):
            raise ValidationFailed("a short code has 5 or 6 digits", errors=[{"field": "address"}])
        return value
    if kind == "alphanumeric":
        if not _ALNUM.match(value):
            raise ValidationFailed(
                "an alphanumeric sender id has 3-11 letters, digits or spaces, at least one letter",
                errors=[{"field": "address"}],
            )
        return value
    return normalize_e164(value, region=region, field="address")


def _check(country: str, capabilities: Iterable[str], throughput: float, status: str) -> list[str]:
    caps = sorted(set(capabilities))
    if not caps or set(caps) - set(CAPABILITIES):
        raise ValidationFailed(
            f"capabilities must be among {', '.join(CAPABILITIES)}", errors=[{"field": "capabilities"}]
        )
    if country and not re.match(r"^[A-Z]{2}$", country):
        raise ValidationFailed("country is an ISO 3166 code such as FR, or empty", errors=[{"field": "country"}])
    if not 0 < throughput <= 100_000:
        raise ValidationFailed("throughput is messages per second, above 0", errors=[{"field": "throughput"}])
    if status not in SENDER_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(SENDER_STATUSES)}", errors=[{"field": "status"}])
    return caps


def create_sender(
    session: Session,
    *,
    kind: str,
    address: str,
    country: str = "",
    capabilities: Iterable[str] = ("sms",),
    throughput: float = 1.0,
    status: str = "active",
    provider_account: str = "default",
    region: str | None = None,
) -> Sender:
    """Add a sender. Raises ValidationFailed for bad fields, Conflict when the address exists."""
    address = validate_address(kind, address, region=region)
    caps = _check(country.upper(), capabilities, throughput, status)
    if session.scalar(select(Sender.id).where(Sender.address == address)) is not None:
        raise Conflict(f"sender {address} already exists")
    sender = Sender(
        kind=kind,
        address=address,
        country=country.upper(),
        capabilities=caps,
        throughput=throughput,
        status=status,
        provider_account=provider_account,
    )
    session.add(sender)
    session.flush()
    return sender


def update_sender(
    session: Session,
    sender_id: int,
    *,
    country: str | None = None,
    capabilities: Iterable[str] | None = None,
    throughput: float | None = None,
    status: str | None = None,
    provider_account: str | None = None,
) -> Sender:
    """Change a sender's settings (its kind and address never change). Raises NotFound/ValidationFailed."""
    sender = get_sender(session, sender_id)
    new_country = sender.country if country is None else country.upper()
    caps = _check(
        new_country,
        sender.capabilities if capabilities is None else capabilities,
        sender.throughput if throughput is None else throughput,
        sender.status if status is None else status,
    )
    sender.country = new_country
    sender.capabilities = caps
    if throughput is not None:
        sender.throughput = throughput
    if status is not None:
        sender.status = status
    if provider_account is not None:
        sender.provider_account = provider_account
    session.flush()
    return sender


def get_sender(session: Session, sender_id: int) -> Sender:
    sender = session.get(Sender, sender_id)
    if sender is None:
        raise NotFound(f"sender {sender_id} not found")
    return sender


def list_senders(session: Session, *, status: str | None = None) -> list[Sender]:
    stmt = select(Sender).order_by(Sender.id)
    if status:
        stmt = stmt.where(Sender.status == status)
    return list(session.scalars(stmt))


def ensure_default_sender(session: Session, *, channel: str) -> None:
    """Seed the simulator's sender (and a fast simulator account) when no sender exists at all."""
    if channel != "simulator" or session.scalar(select(Sender.id).limit(1)) is not None:
        return
    session.add(
        Sender(
            kind="long_code",
            address=SIMULATOR_NUMBER,
            country="",
            capabilities=["sms", "mms"],
            throughput=SIMULATOR_RATE,
            provider_account="simulator",
        )
    )
    if session.scalar(select(ProviderAccount.id).where(ProviderAccount.name == "simulator")) is None:
        session.add(ProviderAccount(name="simulator", throughput=SIMULATOR_RATE))
    session.flush()


def set_account_rate(session: Session, *, name: str, throughput: float) -> ProviderAccount:
    """Set a provider account's rate (messages/s). Raises ValidationFailed for a non-positive rate."""
    if not 0 < throughput <= 100_000:
        raise ValidationFailed("throughput is messages per second, above 0", errors=[{"field": "throughput"}])
    account = session.scalar(select(ProviderAccount).where(ProviderAccount.name == name))
    if account is None:
        account = ProviderAccount(name=name, throughput=throughput)
        session.add(account)
    account.throughput = throughput
    session.flush()
    return account


def account_rates(session: Session) -> dict[str, float]:
    """Configured account rates; accounts not listed run at :data:`DEFAULT_ACCOUNT_RATE`."""
    return {a.name: a.throughput for a in session.scalars(select(ProviderAccount))}


class SenderPicker:
    """Chooses senders for many messages with one query for the active senders.

    Build one per batch (senders change rarely; a batch lasts seconds).
    """

    def __init__(self, session: Session) -> None:
        self._senders = list(session.scalars(select(Sender).where(Sender.status == "active").order_by(Sender.id)))
        self._by_address = {s.address: s for s in self._senders}
        self._choices = {s.address: _choice(s) for s in self._senders}
        # the senders fitting each (need, country), worked out once per batch: a campaign batch asks
        # the same question 500 times, and walking the senders' ORM attributes each time cost more
        # than the rest of the sender choice
        self._fitting: dict[tuple[str, str], list[SenderChoice]] = {}

    def by_address(self, address: str) -> SenderChoice | None:
        """The active sender with this address, or ``None`` (disabled or unknown)."""
        return self._choices.get(address)

    def pick(
        self, *, country: str, contact_id: int = 0, mms: bool = False, sticky: str | None = None
    ) -> SenderChoice | None:
        """The sender for a destination ``country``; ``sticky`` (the contact's last sender) wins if it fits."""
        need = "mms" if mms else "sms"

        def fits(s: Sender) -> bool:
            return need in s.capabilities and s.country in ("", country)

        if sticky:
            current = self._by_address.get(sticky)
            if current is not None and fits(current):
                return self._choices[sticky]
        exact = self._fitting.get((need, country))
        if exact is None:
            candidates = [s for s in self._senders if fits(s)]
            # a sender for the exact country beats an any-country one
            preferred = [s for s in candidates if s.country == country] or candidates
            exact = self._fitting[(need, country)] = [self._choices[s.address] for s in preferred]
        return exact[contact_id % len(exact)] if exact else None

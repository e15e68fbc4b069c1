"""Choose the channel adapter from settings (``RELAIS_CHANNEL``)."""

from __future__ import annotations

from channels.base import Channel
from channels.simulator import SimulatorChannel, SimulatorOutbox
from channels.smpp import SmppChannel, SmppListener
from channels.vonage import VonageChannel
from core.settings import Settings, SettingsError


def get_channel(
    settings: Settings,
    *,
    outbox: SimulatorOutbox | None = None,
    smpp_listener: SmppListener | None = None,
) -> Channel:
    """Build the adapter named by ``settings.channel``.

    Args:
        settings: the deployment's settings.
        outbox: storage behind the simulator; required when the channel is ``simulator``.
        smpp_listener: where SMPP inbound texts and receipts go; without one the SMSC is asked to
            retry every deliver_sm (see :mod:`channels.smpp`).

    Raises:
        SettingsError: the selected channel is missing configuration, named in one line.
    """
    try:
        if settings.channel == "vonage":
            return VonageChannel.from_settings(settings)
        if settings.channel == "smpp":
            return SmppChannel.from_settings(settings, listener=smpp_listener)
    except ValueError as exc:
        raise SettingsError(f"invalid configuration: channel {settings.channel}: {exc}") from None
    if outbox is None:
        raise SettingsError("the simulator channel needs an outbox (a SimulatorOutbox implementation)")
    return SimulatorChannel(outbox=outbox, default_region=settings.default_region)

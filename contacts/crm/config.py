"""CRM sync configuration read from settings.

Fields (``RELAIS_`` env prefix): ``hubspot_access_token``, ``hubspot_host`` (empty: api.hubapi.com),
``hubspot_consent_property`` (default ``sms_consent``),
``hubspot_requests_per_10s`` (default 90: HubSpot allows a private app about 100), ``contact_sync_webhook_secret``,
``contact_sync_csv_url``; an empty token or URL switches that sync off.
"""

from __future__ import annotations

from contacts.crm.hubspot import HubSpotConfig
from core.settings import Settings


def hubspot_config(settings: Settings) -> HubSpotConfig | None:
    """The HubSpot sync settings, ``None`` when no access token is configured."""
    token = settings.hubspot_access_token
    if not token:
        return None
    return HubSpotConfig(
        access_token=token,
        host=settings.hubspot_host or None,
        consent_property=settings.hubspot_consent_property or "sms_consent",
        region=settings.default_region,
        requests_per_10s=settings.hubspot_requests_per_10s,
    )


def webhook_secret(settings: Settings) -> str:
    return settings.contact_sync_webhook_secret


def csv_url(settings: Settings) -> str:
    return settings.contact_sync_csv_url

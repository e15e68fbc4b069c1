"""Which clock a phone number's owner lives by, for quiet hours and local-time sends.

phonenumbers lists every zone a number *might* be in, sorted by name: a Spanish mobile is
``("Atlantic/Canary", "Europe/Madrid")``, a British one starts with ``Europe/Guernsey``, an Irish
one is only ever London's and a Moroccan one the Canaries'. Taking the first zone put mainland
Spain and Portugal an hour off. The rule here:

* a country that lives on one clock in practice has its main zone (:data:`MAIN_ZONE`), unless the
  number's prefix pins it to one of the country's other clocks (:data:`OTHER_CLOCKS`: a Canary
  Islands landline);
* elsewhere (the US, Canada, Brazil, Australia, Mexico, Russia, ...) the zone of the number's
  prefix when phonenumbers gives exactly one, else ``None``: the caller falls back to the
  campaign's zone rather than guess a clock hours away.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Countries that live, in practice, on one clock (ISO 3166 -> IANA zone). Listed explicitly where
#: phonenumbers is ambiguous or wrong, and for the main markets so a change in its metadata cannot
#: move them.
MAIN_ZONE: dict[str, str] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "CH": "Europe/Zurich",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    # the Crown Dependencies share +44 and London's clock; phonenumbers lists all four zones for their mobiles
    "GG": "Europe/Guernsey",
    "IM": "Europe/Isle_of_Man",
    "JE": "Europe/Jersey",
    "IE": "Europe/Dublin",
    "IT": "Europe/Rome",
    "LU": "Europe/Luxembourg",
    "MA": "Africa/Casablanca",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "NZ": "Pacific/Auckland",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "SE": "Europe/Stockholm",
}

#: A main-zone country's regions on another clock, kept when the number's prefix says it is there.
OTHER_CLOCKS: dict[str, frozenset[str]] = {
    "EC": frozenset({"Pacific/Galapagos"}),
    "ES": frozenset({"Atlantic/Canary"}),
    "NZ": frozenset({"Pacific/Chatham"}),
    "PT": frozenset({"Atlantic/Azores", "Atlantic/Madeira"}),
}


def best_zone(region: str | None, zones: Sequence[str]) -> str | None:
    """The zone to plan a number's sends in, or ``None`` when it cannot be told.

    Args:
        region: the number's ISO 3166 region (``ES``), ``None`` when unknown.
        zones: the zones phonenumbers gives for the number's prefix (``Etc/Unknown`` removed).
    """
    main = MAIN_ZONE.get(region or "")
    if main is not None:
        if len(zones) == 1 and zones[0] in OTHER_CLOCKS.get(region or "", frozenset()):
            return zones[0]
        return main
    return zones[0] if len(zones) == 1 else None

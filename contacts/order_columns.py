"""Which column of an order file feeds which field: Online Retail's and Shopify's headers, and overrides.

Headers are compared as ``contacts.import_mapping`` compares them (case, accents and punctuation
ignored), so ``InvoiceNo``, ``Invoice No`` and ``invoice-no`` are one header. A mapping
``{"file column": target}`` overrides single columns (``ignore`` drops one).

Targets: ``order_id``, ``ordered_at``, ``product_id``, ``description``, ``quantity``,
``unit_price`` (required: ``order_id``, ``ordered_at``, ``quantity``, ``unit_price``), the
customer (``customer_id``, ``phone``, ``email``: at least one), ``country``, ``currency``, ``status``,
``refunded`` (the amount given back on the order: Shopify's ``Refunded Amount``), ``cancelled_at`` (when the order
was cancelled: Shopify's ``Cancelled at``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from contacts.import_mapping import EMAIL_HEADERS, SYNONYMS, normalise_header
from core.errors import ValidationFailed

FIELDS = ("order_id", "ordered_at", "product_id", "description", "quantity", "unit_price",
          "customer_id", "phone", "email", "country", "currency", "status", "refunded", "cancelled_at")  # fmt: skip
REQUIRED = ("order_id", "ordered_at", "quantity", "unit_price")
CUSTOMER_FIELDS = ("customer_id", "phone", "email")

_OWN: dict[str, tuple[str, ...]] = {
    "order_id": ("invoiceno", "invoice no", "invoice", "invoice number", "invoice id", "order", "order id",
                 "order no", "order number", "numero de commande", "commande", "facture"),
    "ordered_at": ("invoicedate", "invoice date", "date", "order date", "ordered at", "created at",
                   "date de commande"),
    "product_id": ("stockcode", "stock code", "sku", "product id", "product", "item", "lineitem sku", "reference",
                   "ref"),
    "description": ("description", "product name", "title", "item name", "lineitem name", "libelle", "produit"),
    "quantity": ("quantity", "qty", "lineitem quantity", "quantite", "qte"),
    "unit_price": ("unitprice", "unit price", "price", "lineitem price", "prix", "prix unitaire"),
    "customer_id": ("customerid", "customer id", "customer", "customer number", "customer no", "client",
                    "client id", "numero client", "id client"),
    "currency": ("currency", "devise", "monnaie"),
    "status": ("status", "order status", "financial status", "statut"),
    "refunded": ("refunded amount", "refunded", "refund amount", "amount refunded", "montant rembourse",
                 "rembourse"),
    "cancelled_at": ("cancelled at", "canceled at", "cancellation date", "date d annulation",
                     "annulee le", "date annulation"),
}  # fmt: skip
_SYNONYMS: dict[str, str] = {
    # a bare "number" is the order's more often than the customer's phone in a file of orders
    **{header: target for header, target in SYNONYMS.items() if target in ("phone", "country") and header != "number"},
    **{header: "email" for header in EMAIL_HEADERS},
    **{header: target for target, names in _OWN.items() for header in names},
}


#: headers read only when no column names the field otherwise. Shopify's orders export names its order "Name"
#: (#1001), which elsewhere is a person's; its "Paid at" (empty for an unpaid order) comes before "Created at".
_FALLBACK: dict[str, str] = {"name": "order_id", "order name": "order_id", "paid at": "ordered_at"}


def header_with_orders(mapping: Mapping[str, str] | None) -> Callable[[list[str]], bool]:
    """Whether a row is an order file's header: it names at least two of the required columns (by synonyms or
    ``mapping``). ``contacts.tabular.read_table`` passes over the title rows above it with this."""
    named = {normalise_header(column): target for column, target in (mapping or {}).items()}

    def accepts(cells: list[str]) -> bool:
        keys = {normalise_header(cell) for cell in cells if cell.strip()}
        found = {named.get(key) or _SYNONYMS.get(key) or _FALLBACK.get(key) for key in keys}
        return len(found.intersection(REQUIRED)) >= 2

    return accepts


def recognised(header: list[str]) -> dict[int, str]:
    """Column position → target for the columns whose header names a field (no override, nothing checked): the
    first of two columns naming one target keeps it; a fallback header (:data:`_FALLBACK`) only when no synonym
    names its target."""
    automatic: dict[int, str] = {}
    for position, name in enumerate(header):
        target = _SYNONYMS.get(normalise_header(name))
        if target and target not in automatic.values():
            automatic[position] = target
    for position, name in enumerate(header):
        target = _FALLBACK.get(normalise_header(name))
        if target and target not in automatic.values():
            automatic[position] = target
    return automatic


def resolve(header: list[str], mapping: Mapping[str, str] | None) -> dict[int, str]:
    """Column position → target for the columns used: synonyms first, then ``mapping``'s overrides.

    When two columns name one target automatically, the first keeps it; a fallback header (:data:`_FALLBACK`)
    is read only when no synonym names its target.

    Raises:
        ValidationFailed: an override names no column or an unknown target, two columns are mapped
            to one target, a required column is missing, or no column says who the customer is.
    """
    automatic = recognised(header)
    by_key = {normalise_header(name): i for i, name in reversed(list(enumerate(header)))}
    errors: list[dict[str, str]] = []
    overrides: dict[int, str] = {}
    for column, target in (mapping or {}).items():
        found = by_key.get(normalise_header(column))
        if found is None:
            errors.append({"field": f"mapping.{column}", "message": "no such column in the file"})
        elif target not in (*FIELDS, "ignore"):
            allowed = ", ".join((*FIELDS, "ignore"))
            errors.append({"field": f"mapping.{column}", "message": f"target must be one of {allowed}"})
        else:
            overrides[found] = target
    chosen = [t for t in overrides.values() if t != "ignore"]
    errors.extend({"field": "mapping", "message": f"several columns map to {t}"}
                  for t in sorted({t for t in chosen if chosen.count(t) > 1}))  # fmt: skip
    resolved = {p: t for p, t in automatic.items() if p not in overrides and t not in chosen}
    resolved.update({p: t for p, t in overrides.items() if t != "ignore"})
    present = set(resolved.values())
    errors.extend({"field": "mapping", "message": f"no column maps to {t}"} for t in REQUIRED if t not in present)
    if not present.intersection(CUSTOMER_FIELDS):
        errors.append(
            {"field": "mapping", "message": "no column says who the customer is (customer_id, phone or email)"}
        )
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return dict(sorted(resolved.items()))

"""Relais settings: one pydantic-settings class, every variable prefixed ``RELAIS_``.

A wrong value must stop start-up with one line naming the variable, so :func:`get_settings`
turns pydantic's validation report into :class:`SettingsError`, which the CLI prints bare.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Environment = Literal["development", "test", "production"]
ChannelName = Literal["simulator", "vonage", "smpp"]


class SettingsError(Exception):
    """A configuration problem, worded as one line for the operator."""


class Settings(BaseSettings):
    """Every knob of a Relais deployment; README.md documents each one."""

    model_config = SettingsConfigDict(env_prefix="RELAIS_", env_file=".env", extra="ignore")

    env: Environment = "development"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Path("data")
    public_url: str = ""

    database_url: str = ""
    redis_url: str = ""
    qdrant_url: str = ""
    qdrant_api_key: str = ""

    # "kid:base64key,kid2:base64key"; the first key encrypts, all decrypt.
    encryption_keys: str = ""
    blind_index_key: str = ""
    secret_key: str = ""

    default_region: str = "FR"
    channel: ChannelName = "simulator"
    business_name: str = "Relais"
    brand_color: str = "#1f5fbf"
    brand_logo_url: str = ""
    require_2fa_roles: str = "admin,agent"
    log_json: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    inbound_worker_threads: int = Field(1, ge=1, le=64)
    # Provider calls in flight per worker process (the delivery engine's lanes, the Vonage pool): docs/delivery.md
    send_concurrency: int = Field(10, ge=1, le=256)
    # The longest a provider's "slow down" (429, throttled) pauses its account, whatever it asks: docs/delivery.md
    max_throttle_pause_seconds: float = Field(300.0, ge=1.0, le=3600.0)
    # Request bodies, counted while they stream in (docs/security.md): public webhooks, uploads, the rest
    webhook_body_max_bytes: int = Field(64 * 1024, ge=1024)
    upload_max_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    body_max_bytes: int = Field(1024 * 1024, ge=1024)
    # Outbound requests to URLs people typed (webhooks, push, CRM sync) reach public addresses
    # only (core.outbound_http); these lift that for development fakes or named internal hosts
    outbound_allow_private: bool = False
    outbound_allowed_hosts: str = ""
    # Production: the simulator channel needs this explicit yes; /docs, /openapi.json and /metrics
    # need an admin session or API key unless public_docs / public_metrics say otherwise
    allow_simulator_in_production: bool = False
    public_docs: bool = False
    public_metrics: bool = False

    # Vonage
    vonage_api_key: str = ""
    vonage_api_secret: str = ""
    vonage_application_id: str = ""
    vonage_private_key_path: str = ""
    vonage_signature_secret: str = ""
    vonage_signature_method: str = "sha256"
    vonage_api_host: str = ""
    vonage_rest_host: str = ""

    # SMPP
    smpp_host: str = ""
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""

    # LLM (OpenAI-compatible endpoint, optional)
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout_seconds: float = Field(8.0, gt=0)

    # Agent thresholds
    embedding_backend: str = "use-multilingual"
    # the intent model's embeddings: the same as above, or e.g. "use-multilingual+minilm" for an
    # English-only deployment (more accurate on English, one more embedding per message);
    # "minilm-tuned+use-multilingual" fine-tunes MiniLM on the examples (few examples per intent)
    intent_backend: str = "use-multilingual"
    intent_min_confidence: float = Field(0.45, ge=0, le=1)
    retrieval_min_score: float = Field(0.35, ge=0, le=1)
    sentiment_escalate_below: float = Field(-0.7, ge=-1, le=1)
    repeat_failure_limit: int = Field(2, ge=1)

    # Human handoff
    handoff_sla_minutes: int = Field(10, ge=1)
    handoff_routing: Literal["least_busy", "round_robin"] = "least_busy"
    handoff_default_handle_minutes: int = Field(5, ge=1)

    # CRM and contact sync
    hubspot_access_token: str = ""
    hubspot_host: str = ""  # empty: api.hubapi.com
    hubspot_consent_property: str = "sms_consent"
    # requests a HubSpot sync sends per 10 s at most: HubSpot allows a private app about 100, answering 429 past it
    hubspot_requests_per_10s: int = Field(90, ge=1)
    contact_sync_webhook_secret: str = ""
    contact_sync_csv_url: str = ""

    # Contact imports (CSV/XLSX): a file beyond these is refused before any work (docs/contacts.md)
    import_max_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(2_000_000, ge=1)
    import_max_cell_chars: int = Field(2000, ge=10, le=100_000)
    import_max_columns: int = Field(200, ge=1, le=10_000)

    # Shopify
    shopify_webhook_secret: str = ""
    # a signed body whose updated_at/created_at is older than this is refused (replay of an old body)
    shopify_webhook_max_age_hours: int = Field(48, ge=1, le=24 * 30)

    # Consent policy for marketing (contacts.consent): "opt_in" texts only contacts with an opt-in
    # on record; "soft_opt_in" also texts existing customers (a purchase within soft_opt_in_days)
    # who never opted out, where the law allows it (e.g. PECR reg. 22(3), French CPCE L34-5).
    marketing_consent: Literal["opt_in", "soft_opt_in"] = "opt_in"
    soft_opt_in_days: int = Field(730, ge=1, le=3650)

    # Money (docs/intelligence.md, forecast): the SMS provider's prices are in sms_price_currency; a
    # forecast's ROI divides revenue (in the orders' currency) by cost only in one currency, so when they
    # differ it converts with a rate given here, "GBP:EUR=1.17" (1 GBP = 1.17 EUR; the inverse is implied),
    # several separated by commas, or says "n/a" without one
    sms_price_currency: str = "EUR"
    exchange_rates: str = ""

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        if value:
            try:
                make_url(value)
            except ArgumentError as exc:
                raise ValueError(f"cannot parse database URL ({exc})") from None
        return value

    @field_validator("redis_url", "qdrant_url")
    @classmethod
    def _server_url_scheme(cls, value: str) -> str:
        if value and "://" not in value:
            raise ValueError("must be a URL such as redis://127.0.0.1:6379/0")
        return value

    @field_validator("sms_price_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be an ISO 4217 code such as EUR")
        return value.upper()

    @field_validator("exchange_rates")
    @classmethod
    def _rates_parse(cls, value: str) -> str:
        parse_exchange_rates(value)
        return value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.env == "production":
            for name in ("encryption_keys", "blind_index_key", "secret_key"):
                if not getattr(self, name):
                    raise ValueError(f"RELAIS_{name.upper()} is required when RELAIS_ENV=production")
            if self.channel == "simulator" and not self.allow_simulator_in_production:
                raise ValueError(
                    "RELAIS_CHANNEL=simulator is refused when RELAIS_ENV=production (its pages are public and "
                    "nothing reaches a phone); choose vonage or smpp, or set RELAIS_ALLOW_SIMULATOR_IN_PRODUCTION=true"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'relais.db').resolve()}"

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def exchange_rate_table(self) -> dict[tuple[str, str], float]:
        """(from, to) → units of ``to`` one unit of ``from`` is worth, each configured rate and its inverse."""
        return parse_exchange_rates(self.exchange_rates)

    @property
    def roles_requiring_2fa(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.require_2fa_roles.split(",") if r.strip())


def parse_exchange_rates(text: str) -> dict[tuple[str, str], float]:
    """``"GBP:EUR=1.17,USD:EUR=0.92"`` as a table that also holds each inverse.

    Raises:
        ValueError: an entry not of the form ``AAA:BBB=positive number``, or a pair given twice.
    """
    table: dict[tuple[str, str], float] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        pair, _, number = entry.partition("=")
        source, _, target = (part.strip().upper() for part in pair.partition(":"))
        try:
            rate = float(number)
        except ValueError:
            rate = 0.0
        codes_ok = all(len(c) == 3 and c.isalpha() for c in (source, target)) and source != target
        if not codes_ok or not (0 < rate < float("inf")):
            raise ValueError(f"{entry!r} is not of the form GBP:EUR=1.17 (two ISO 4217 codes, a positive rate)")
        if (source, target) in table:
            raise ValueError(f"{source}:{target} is given twice (an inverse counts as the same pair)")
        table[(source, target)], table[(target, source)] = rate, 1 / rate
    return table


def _one_line(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = "".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if loc:
            problems.append(f"RELAIS_{loc.upper()}: {message}")
        else:
            problems.append(message)
    return "invalid configuration: " + "; ".join(problems)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and ``.env``), raising :class:`SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()

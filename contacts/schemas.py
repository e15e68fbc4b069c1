"""Pydantic shapes of contacts, lists, attributes, consent, suppressions and segments for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contacts.models import ConsentEvent, Contact, ContactImport, ContactImportProblem
from core.bodies import JsonObject, RequestBody


class ContactIn(RequestBody):
    phone: str = Field(max_length=32)
    name: str | None = Field(None, max_length=200)
    first_name: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=16)
    timezone: str | None = Field(None, max_length=64)
    attributes: JsonObject = Field(default_factory=dict, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)
    list_ids: list[int] = Field(default_factory=list)
    consent: ConsentIn | None = None


class ContactPatch(RequestBody):
    name: str | None = Field(None, max_length=200)
    first_name: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=16)
    timezone: str | None = Field(None, max_length=64)
    attributes: JsonObject | None = Field(None, max_length=100, description="merged key by key; null removes a key")
    tags: list[str] | None = Field(None, max_length=50, description="replaces the tags")


class ContactOut(BaseModel):
    id: int
    phone: str | None
    name: str | None
    first_name: str | None
    country: str
    #: the number's class (``mobile``, ``fixed_line``…; ``channels.phone.LineType``), ``None`` until filled;
    #: a class in ``channels.phone.NO_SMS`` (a landline…) is never texted
    line_type: str | None
    language: str | None
    timezone: str | None
    attributes: dict[str, Any]
    tags: list[str]
    external_ids: dict[str, str]
    consent_status: str
    opted_out: bool
    erased: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        return cls(
            id=contact.id,
            phone=contact.phone,
            name=contact.name,
            first_name=contact.first_name,
            country=contact.country,
            line_type=contact.line_type,
            language=contact.language,
            timezone=contact.timezone,
            attributes=contact.attributes or {},
            tags=contact.tags or [],
            external_ids=contact.external_ids or {},
            consent_status=contact.consent_status,
            opted_out=contact.opted_out,
            erased=contact.erased,
            created_at=contact.created_at,
            updated_at=contact.updated_at,
        )


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_after_id: int | None


class MergeIn(RequestBody):
    source_id: int = Field(description="the contact folded into this one and then deleted")


class ConsentIn(RequestBody):
    action: Literal["opt_in", "opt_out"] = "opt_in"
    source: str = Field("api", max_length=100)
    proof: str = Field("", max_length=2000)
    double_opt_in: bool = False


class ConsentEventOut(BaseModel):
    id: int
    action: str
    source: str
    proof: str
    actor_type: str
    actor_id: str
    at: datetime

    @classmethod
    def of(cls, event: ConsentEvent) -> ConsentEventOut:
        return cls(
            id=event.id,
            action=event.action,
            source=event.source,
            proof=event.proof,
            actor_type=event.actor_type,
            actor_id=event.actor_id,
            at=event.at,
        )


class ConsentOut(BaseModel):
    contact_id: int
    consent_status: str
    opted_out: bool
    suppressed: bool
    history: list[ConsentEventOut]


class SuppressionIn(RequestBody):
    phone: str = Field(max_length=32)
    reason: str = Field("manual", max_length=100)
    note: str = Field("", max_length=2000)


class SuppressionOut(BaseModel):
    id: int
    reason: str
    note: str
    created_at: datetime


class AttributeIn(RequestBody):
    name: str = Field(max_length=64)
    type: Literal["string", "number", "boolean", "date"]
    segmentable: bool = False
    description: str = Field("", max_length=500)  # the column's size: 2,000 passed here and failed PostgreSQL


class AttributePatch(RequestBody):
    """What may change in a declaration (the name may not: templates and imports name it)."""

    type: Literal["string", "number", "boolean", "date"] | None = None
    segmentable: bool | None = None
    description: str | None = Field(None, max_length=500)


class AttributeOut(AttributeIn):
    model_config = ConfigDict(extra="ignore")  # an answer, not a request: RequestBody forbids extras
    id: int
    created_at: datetime


class ListIn(RequestBody):
    name: str = Field(max_length=200)
    description: str = Field("", max_length=2000)


class ListOut(ListIn):
    model_config = ConfigDict(extra="ignore")  # an answer, not a request: RequestBody forbids extras
    id: int
    size: int
    created_at: datetime


class MembersIn(RequestBody):
    contact_ids: list[int] = Field(min_length=1, max_length=10_000)


class SegmentIn(RequestBody):
    name: str = Field(max_length=200)
    description: str = Field("", max_length=2000)
    rules: JsonObject


class SegmentPatch(RequestBody):
    name: str | None = None
    description: str | None = None
    rules: dict[str, Any] | None = None


class SegmentOut(SegmentIn):
    model_config = ConfigDict(extra="ignore")  # an answer, not a request: RequestBody forbids extras
    id: int
    created_at: datetime
    updated_at: datetime


class RulesIn(RequestBody):
    rules: JsonObject


class CountOut(BaseModel):
    count: int


class LeftOutOut(BaseModel):
    """Contacts the rules leave out because they hold no prediction of ``kind`` yet, and how they get one."""

    kind: str
    contacts: int
    why: str
    next_scoring: datetime | None  # None: the next run would add none (too few customers have ordered)


class PreviewOut(CountOut):
    left_out: list[LeftOutOut] = []


class ImportColumnOut(BaseModel):
    column: str
    target: str = Field(description="phone, name, ..., attribute:<name>, or ignore")
    source: str = Field(description="mapping (given), synonym, attribute, or none")
    note: str = ""


class ImportProblemOut(BaseModel):
    row: int = Field(description="the spreadsheet's row number: header = 1, first data row = 2")
    field: str
    code: str
    message: str


class ImportJobOut(BaseModel):
    """A contact import and its progress (``GET /api/v1/contacts/imports/{id}``)."""

    id: int
    status: str = Field(description="pending, running, succeeded, failed or cancelled")
    phase: str = Field(description="validating (strict imports and dry runs read the file first) or importing")
    filename: str
    format: str
    encoding: str
    delimiter: str
    size_bytes: int
    strict: bool
    dry_run: bool
    rows_total: int | None = Field(description="an estimate from the file, for progress")
    rows_done: int
    percent: float
    created: int
    updated: int
    unchanged: int = Field(description="existing contacts the file changed nothing of (a file imported again)")
    skipped: int
    rejected: int
    warning_count: int
    without_consent: int
    error: str = Field(description="why a failed import stopped")
    cancel_requested: bool
    columns: list[ImportColumnOut]
    sheet: str = Field("", description="XLSX: the sheet read (the first visible one holding a header)")
    header_row: int = Field(1, description="the row of the column names; rows above it (a title) are not imported")
    notices: list[str]
    errors: list[ImportProblemOut] = Field(description="the first rejected rows; all are in rejected.csv")
    warnings: list[ImportProblemOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: dict[str, str]

    @classmethod
    def of(
        cls,
        job: ContactImport,
        *,
        percent: float,
        notices: list[str],
        errors: list[ContactImportProblem],
        warnings: list[ContactImportProblem],
    ) -> ImportJobOut:
        base = f"/api/v1/contacts/imports/{job.id}"

        def problem(p: ContactImportProblem) -> ImportProblemOut:
            return ImportProblemOut(row=p.row, field=p.column, code=p.code, message=p.message)

        return cls(
            id=job.id,
            status=job.status,
            phase=job.phase,
            filename=job.filename,
            format=job.format,
            encoding=job.encoding,
            delimiter=job.delimiter,
            size_bytes=job.size_bytes,
            strict=bool(job.options.get("strict")),
            dry_run=bool(job.options.get("dry_run")),
            rows_total=job.rows_total,
            rows_done=job.rows_done,
            percent=percent,
            created=job.created,
            updated=job.updated,
            unchanged=job.unchanged,
            skipped=job.skipped,
            rejected=job.rejected,
            warning_count=job.warning_count,
            without_consent=job.without_consent,
            error=job.error,
            cancel_requested=job.cancel_requested,
            columns=[ImportColumnOut(**c) for c in job.mapping.get("columns", [])],
            sheet=str(job.mapping.get("sheet") or ""),
            header_row=int(job.mapping.get("header_row") or 1),
            notices=notices,
            errors=[problem(p) for p in errors],
            warnings=[problem(p) for p in warnings],
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            links={"self": base, "cancel": f"{base}/cancel", "rejected_csv": f"{base}/rejected.csv"},
        )


ContactIn.model_rebuild()

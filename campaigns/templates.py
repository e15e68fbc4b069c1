"""Message templates: a Jinja2 sandbox, validation on save, rendering, and the opt-out footer.

A template may read the contact (``first_name``, ``name``, ``language``, ``country``,
``timezone``), its declared attributes (``attributes.NAME``), its predictions
(``prediction.KIND``, a kind of ``contacts.models.PREDICTION_KINDS``, and ``recommendations``,
a few product descriptions; both missing until the contact is scored), ``business_name``, and for
transactional templates the event payload (``event.FIELD``, dotted paths declared on the
template). Every value that can be missing must have a default (``{{ first_name | default("") }}``)
or be guarded by an ``{% if %}`` test; :func:`validate` rejects anything else, and any unsafe
construct (function calls, imports, macros, assignments, private attributes, unknown filters),
naming the variable and the line. Rendering uses a strict undefined that is false in ``if``
tests, so an unchecked hole raises instead of sending "None" to a customer.

Output is bounded: a template renders at most ``MAX_RENDERED_CHARS`` (what one message may
carry), and no value inside it may grow past that either: ``*`` and ``+`` on strings and lists
are checked before they build anything, filters after, ``%`` may not format text, and loops may
not nest, so
``{{ "x" * 20000000 }}`` fails with a 422 on save and preview instead of allocating 20 MB.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_percent, get_decimal_symbol
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from contacts.models import PREDICTION_KINDS
from conversations.flows import MAX_BODY_CHARS
from core.errors import ValidationFailed
from intelligence.summary import AMOUNTS, CHANCES

#: The most characters a template may render, and the largest string or list it may build.
MAX_RENDERED_CHARS = MAX_BODY_CHARS

#: Contact fields a template can read; all of them can be missing.
CONTACT_FIELDS = ("first_name", "name", "language", "country", "timezone")
#: The contact's predictions: ``prediction.KIND`` and the list ``recommendations``; missing until scored.
PREDICTION_ROOT, RECOMMENDATIONS_ROOT = "prediction", "recommendations"
#: Always present at render time.
ALWAYS_PRESENT = ("business_name",)
ALLOWED_FILTERS = frozenset({
    "default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "round", "int", "float",
    "join", "length", "first", "last", "replace", "striptags", "abs", "string",
})
ALLOWED_TESTS = frozenset({"defined", "undefined", "none", "number", "string", "odd", "even", "eq", "ne"})
_SAFE_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.If, nodes.For, nodes.Name,
    nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test, nodes.Compare, nodes.Operand, nodes.And,
    nodes.Or, nodes.Not, nodes.CondExpr, nodes.Concat, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div,
    nodes.FloorDiv, nodes.Mod, nodes.Neg, nodes.Pos, nodes.List, nodes.Tuple, nodes.Keyword,
    nodes.Slice,
)

FOOTERS: dict[str, str] = {
    "en": "Reply STOP to opt out",
    "fr": "STOP au {number}",
    "es": "Responde STOP para darte de baja",
    "de": "Antworte STOP zum Abbestellen",
    "it": "Rispondi STOP per non ricevere altri messaggi",
    "pt": "Responda STOP para cancelar",
}
#: French wording when no short code is configured.
FOOTER_FR_NO_NUMBER = "Répondez STOP pour vous désinscrire"
_STOP_WORD = re.compile(r"\bSTOP\b")


class _Missing(StrictUndefined):
    """Raises when printed or iterated, but is false in ``{% if %}`` so guards work."""

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


def _too_long(size: int) -> ValidationFailed:
    return ValidationFailed(
        f"the template renders or builds {size} characters or items; a message holds at most {MAX_RENDERED_CHARS}",
        errors=[{"field": "body", "message": f"renders more than {MAX_RENDERED_CHARS} characters"}],
    )


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox with ``*`` and ``+`` on strings and lists checked before the result is built.

    ``%`` on text is refused: its width (``"%99999999s" % x``) builds any length in one step.
    """

    intercepted_binops = frozenset({"*", "+", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%":
            if isinstance(left, str):
                raise ValidationFailed(
                    "text formatting with % is not allowed in templates; join values with ~",
                    errors=[{"field": "body", "message": "text formatting with % is not allowed"}],
                )
            size = 0
        elif operator == "*":
            count = right if isinstance(right, int) else left if isinstance(left, int) else 0
            size = max(_size(left), _size(right)) * max(count, 0)
        else:
            size = _size(left) + _size(right)
        if size > MAX_RENDERED_CHARS:
            raise _too_long(size)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``event.items`` is the payload's field, not the mapping's method: Jinja tries the attribute first, and an
        order's ``items`` printed "<built-in method items of dict object …>"."""
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _bounded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a filter) failing when it returns a string or list longer than a message (``replace``, ``join``)."""

    @functools.wraps(fn)  # keeps jinja's pass_context / pass_eval_ctx marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value = fn(*args, **kwargs)
        if _size(value) > MAX_RENDERED_CHARS:
            raise _too_long(_size(value))
        return value

    return bounded


#: How a list reads when a template prints it whole: its items joined with a comma, the way a shop's own emails list
#: products ("REX lamp, Oak table"); no "and", which would be English in a French text.
LIST_SEPARATOR = ", "


#: How a true / false value reads in a text written in each language the opt-out footer speaks (English otherwise):
#: "True" in a French SMS is Python, not French.
YES_NO: dict[str, tuple[str, str]] = {
    "en": ("yes", "no"), "fr": ("oui", "non"), "es": ("sí", "no"), "de": ("ja", "nein"), "it": ("sì", "no"),
    "pt": ("sim", "não"),
}
#: Prediction kinds counted in whole units (an hour of the day, days until the next order): "18", not "18.00".
WHOLE_KINDS = ("best_hour", "next_purchase_days")
#: The language of the template being rendered (set by :meth:`Compiled.render`), so yes / no and numbers are written
#: in it wherever text is made of a value (``{{ }}``, ``~``, ``| string``), not only where the renderer prints.
_LANGUAGE: ContextVar[str] = ContextVar("template_language", default="en")
#: Babel's spaces around "%" (fr "72 %") are no-break ones, outside GSM-7: one would send the whole SMS as UCS-2.
_GSM_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2212": "-"})


@functools.lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale("en")


def yes_no(value: bool, language: str | None = None) -> str:
    """``value`` as the word for it in ``language`` (the template's, while one renders)."""
    lang = language or _LANGUAGE.get()
    yes, no = YES_NO.get(lang.split("-")[0].lower(), YES_NO["en"])
    return yes if value else no


def figure(value: float, language: str | None = None) -> str:
    """A number with a fraction as a message shows it: two decimals with the language's separator ("0,72" in
    French), a whole one without (``| round`` gives 124.0: "124"). No thousands separator: French's is a no-break
    space, which GSM-7 lacks."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.2f}".replace(".", _decimal_symbol(language or _LANGUAGE.get()))


def chance(value: float, language: str | None = None) -> str:
    """A probability (docs/intelligence.md's chances) as a whole percentage in ``language`` ("72 %" in French, "72%"
    in English); a chance is never printed as a certainty: 0.998 is 99 %, 0.003 is 1 %."""
    percent = round(value * 100)
    if 0 < value < 1:
        percent = min(max(percent, 1), 99)
    return _percent(percent, language or _LANGUAGE.get())


@functools.lru_cache(maxsize=64)
def _decimal_symbol(language: str) -> str:
    """Cached: a campaign prints the same language's figures for every recipient (Babel's formatting costs 10 µs)."""
    return str(get_decimal_symbol(_locale(language)))


@functools.lru_cache(maxsize=1024)
def _percent(percent: int, language: str) -> str:
    return str(format_percent(percent / 100, locale=_locale(language))).translate(_GSM_SPACES)


class Figure(float):
    """A number of the render context (an attribute, an event's amount, a prediction) that reads as :func:`figure`
    wherever text is made of it; arithmetic, ``| round`` and ``| int`` see the number."""

    def __str__(self) -> str:
        return figure(float(self))


class Chance(Figure):
    """A prediction that is a probability (``intelligence.summary.CHANCES``): it reads as :func:`chance`."""

    def __str__(self) -> str:
        return chance(float(self))


class Amount(Figure):
    """A predicted amount of money (``intelligence.summary.AMOUNTS``): it reads as :func:`figure` followed by the
    shop's currency code ("8999,21 EUR" in French), as the shop's own texts write prices ("4,90 EUR"): "Vos achats
    prévus : 8999,21" left the customer guessing the unit. No code when no order names one; ``| round`` and
    arithmetic see the number (and print it bare)."""

    currency: str

    def __new__(cls, value: float, currency: str = "") -> Amount:
        made = super().__new__(cls, value)
        made.currency = currency
        return made

    def __str__(self) -> str:
        return f"{figure(float(self))} {self.currency}".rstrip()


class Whole(Figure):
    """A prediction counted in whole units (:data:`WHOLE_KINDS`): it reads rounded."""

    def __str__(self) -> str:
        return str(round(self))


class YesNo:
    """A true / false value of the render context: false in ``{% if %}``, equal to ``true`` / ``false``, and the
    word :func:`yes_no` wherever text is made of it."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, YesNo) else other)

    def __hash__(self) -> int:
        return hash(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return yes_no(self.value)


def _a_group(value: Mapping[Any, Any]) -> ValidationFailed:
    keys = ", ".join(sorted(str(key) for key in value)) or "none"
    return ValidationFailed(
        f"the template prints a group of fields whole; print one of its fields instead: {keys}",
        errors=[{"field": "body", "message": f"prints a group of fields whole; choose one of: {keys}"}],
    )


def printed(value: Any) -> Any:
    """A value as a message shows it: a list (``recommendations``, a list in an event's payload, a ``default([])``)
    as its items joined with ``LIST_SEPARATOR``; true / false as yes / no and a number with a fraction as
    :func:`figure`, in the template's language; anything else as it is. ``{{ recommendations | default("") }}``
    wrote Python's ``['REX lamp', 'Oak table']`` into the SMS, a boolean attribute "True" into a French one and a
    prediction ``0.7234987…``. A mapping (``{{ event.order }}``) is never what a customer should read: refused,
    naming its fields (:func:`validate` refuses the declared ones on save)."""
    if isinstance(value, Mapping):
        raise _a_group(value)
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(printed(item)) for item in value)
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, YesNo | Figure):
        return str(value)
    if isinstance(value, float):
        return figure(value)
    return value


class Words(list[Any]):
    """A list of the render context that reads as words wherever text is made of it (``~``, ``| upper``,
    ``| string``), as ``printed`` makes it in ``{{ }}``; ``| first``, ``| join`` and ``{% for %}`` see the list."""

    def __str__(self) -> str:
        return str(printed(self))


def as_words(value: Any) -> Any:
    """``value`` with every list in it (nested in an event's payload too) a :class:`Words`, every true / false a
    :class:`YesNo` and every number with a fraction a :class:`Figure`: the context reads as the message prints."""
    if isinstance(value, list | tuple):
        return Words(as_words(item) for item in value)
    if isinstance(value, Mapping):
        return {key: as_words(item) for key, item in value.items()}
    if isinstance(value, bool):
        return YesNo(value)
    if isinstance(value, float):
        return Figure(value)
    return value


def _predicted(kind: str, value: float, currency: str) -> Figure:
    """A prediction as it reads: a chance as a percentage, an hour or a count of days whole, an amount with
    ``currency``, others as figures."""
    if kind in AMOUNTS:
        return Amount(value, currency)
    return Chance(value) if kind in CHANCES else Whole(value) if kind in WHOLE_KINDS else Figure(value)


def prediction_words(kind: str, value: float, language: str, currency: str = "") -> str:
    """A stored prediction as a message in ``language`` prints it ("72 %" for a French chance, "8999,21 EUR" for
    an amount in ``currency``): the editor shows the contact's value so beside the preview, which printed "82 %"
    where the list said "0.82"."""
    token = _LANGUAGE.set(language)
    try:
        return str(_predicted(kind, value, currency))
    finally:
        _LANGUAGE.reset(token)


_ENV = _BoundedSandbox(undefined=_Missing, autoescape=False, keep_trailing_newline=False, finalize=printed)
_ENV.filters = {name: _bounded(f) for name, f in _ENV.filters.items() if name in ALLOWED_FILTERS}
_ENV.tests = {name: t for name, t in _ENV.tests.items() if name in ALLOWED_TESTS}
_ENV.globals = {}


@dataclass(frozen=True)
class TemplateSpec:
    """What a template may read: declared attribute names and event payload paths.

    An event path ending in ``?`` is optional (needs a default); others are always in the payload.
    """

    attributes: Sequence[str] = ()
    event_fields: Sequence[str] = ()


@dataclass
class _Walk:
    spec: TemplateSpec
    errors: list[dict[str, Any]] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)

    def error(self, node: nodes.Node, variable: str, message: str) -> None:
        self.errors.append({"field": "body", "line": node.lineno, "variable": variable,
                            "message": f"line {node.lineno}: {message}"})


def _path(node: nodes.Node) -> list[str] | None:
    """``attributes.plan`` → ["attributes", "plan"]; ``None`` when not a plain name/attribute chain."""
    if isinstance(node, nodes.Name):
        return [node.name]
    if isinstance(node, nodes.Getattr):
        base = _path(node.node)
        return None if base is None else [*base, node.attr]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        base = _path(node.node)
        return None if base is None else [*base, node.arg.value]
    return None


def _event_paths(spec: TemplateSpec) -> dict[str, bool]:
    """Declared event paths → optional flag (prefixes of a path are known containers, never missing)."""
    found: dict[str, bool] = {}
    for raw in spec.event_fields:
        optional = raw.endswith("?")
        path = raw.rstrip("?")
        parts = path.split(".")
        for i in range(1, len(parts)):
            found.setdefault(".".join(parts[:i]), False)
        found[path] = optional
    return found


def _event_groups(spec: TemplateSpec) -> dict[str, list[str]]:
    """Declared event paths that hold other fields (``order`` of ``order.number``) → those fields, dotted."""
    groups: dict[str, set[str]] = {}
    for raw in spec.event_fields:
        parts = raw.rstrip("?").split(".")
        for i in range(1, len(parts)):
            groups.setdefault(".".join(parts[:i]), set()).add(f"event.{'.'.join(parts[:i + 1])}")
    return {path: sorted(fields) for path, fields in groups.items()}


#: Filters whose result is the value's own text: ``{{ event.order | default("") | upper }}`` still prints the mapping.
_TEXT_FILTERS = frozenset({"default", "d", "string", "upper", "lower", "title", "capitalize", "trim", "truncate",
                           "replace", "striptags"})


def _printed_nodes(node: nodes.Node) -> Iterator[nodes.Node]:
    """The expressions whose value an output expression writes as text (through ``~``, ``if … else``, text filters)."""
    if isinstance(node, nodes.Filter) and node.name in _TEXT_FILTERS and node.node is not None:
        yield from _printed_nodes(node.node)
        if node.name in ("default", "d"):
            for fallback in node.args[:1]:
                yield from _printed_nodes(fallback)
    elif isinstance(node, nodes.Concat):
        for part in node.nodes:
            yield from _printed_nodes(part)
    elif isinstance(node, nodes.CondExpr):
        yield from _printed_nodes(node.expr1)
        if node.expr2 is not None:
            yield from _printed_nodes(node.expr2)
    else:
        yield node


def _check_groups(walk: _Walk, output: nodes.Output, local: set[str]) -> None:
    """A group of event fields printed whole would write ``{'number': …}`` into the SMS: name the fields instead."""
    groups = _event_groups(walk.spec)
    for expr in output.nodes:
        for node in _printed_nodes(expr):
            path = _path(node)
            if not path or path[0] != "event" or path[0] in local or ".".join(path[1:]) not in groups:
                continue
            dotted, fields = ".".join(path), groups[".".join(path[1:])]
            walk.error(node, dotted, f"{dotted!r} is a group of fields and would print as {{'…': …}}; print one "
                                     f"of its fields: {', '.join(fields)}, e.g. {{{{ {fields[0]} }}}}")


def _check_variable(walk: _Walk, node: nodes.Node, path: list[str], local: set[str], guarded: set[str],
                    defaulted: bool) -> None:
    dotted = ".".join(path)
    root = path[0]
    if root in local:
        return
    if root in ALWAYS_PRESENT and len(path) == 1:
        walk.variables.add(dotted)
        return
    if (root in CONTACT_FIELDS or root == RECOMMENDATIONS_ROOT) and len(path) == 1:
        may_be_missing = True
    elif root == PREDICTION_ROOT and len(path) == 2:
        if path[1] not in PREDICTION_KINDS:
            walk.error(node, dotted, f"unknown prediction {path[1]!r}; kinds: {', '.join(PREDICTION_KINDS)}")
            return
        may_be_missing = True
    elif root == "attributes" and len(path) >= 2:
        if path[1] not in walk.spec.attributes:
            walk.error(node, dotted, f"unknown attribute {path[1]!r}; declared attributes: "
                                     f"{', '.join(sorted(walk.spec.attributes)) or 'none'}")
            return
        may_be_missing = True
    elif root == "event" and len(path) >= 2:
        known = _event_paths(walk.spec)
        sub = ".".join(path[1:])
        if sub not in known:
            walk.error(node, dotted, f"unknown event field {sub!r}; declared fields: "
                                     f"{', '.join(sorted(known)) or 'none'}")
            return
        may_be_missing = known[sub]
    else:
        walk.error(node, dotted, f"unknown variable {dotted!r}; use one of "
                                 f"{', '.join(CONTACT_FIELDS + ALWAYS_PRESENT)}, attributes.NAME, prediction.KIND, "
                                 "recommendations or event.FIELD")
        return
    walk.variables.add(dotted)
    if may_be_missing and not defaulted and dotted not in guarded:
        walk.error(node, dotted, f"{dotted!r} can be missing: " + _MISSING_ADVICE.get(
            dotted, f"give it a default, e.g. {{{{ {dotted} | default(\"\") }}}}, or test it with {{% if {dotted} %}}"))


#: What to write instead of a bare list that can be missing: it prints as "A, B, C" with a default; one item reads
#: better in a sentence.
_MISSING_ADVICE = {
    RECOMMENDATIONS_ROOT: f"test it, e.g. {{% if {RECOMMENDATIONS_ROOT} %}}You may like {{{{ {RECOMMENDATIONS_ROOT} | "
                          f"first }}}}{{% endif %}}, or give it a default, e.g. {{{{ {RECOMMENDATIONS_ROOT} | "
                          f"default(\"\") }}}} (the products joined with \"{LIST_SEPARATOR}\")",
}


def _tested_paths(test: nodes.Node) -> Iterator[str]:
    for sub in [test, *test.find_all((nodes.Name, nodes.Getattr, nodes.Getitem))]:
        path = _path(sub)
        if path:
            yield ".".join(path)


def _visit(walk: _Walk, node: nodes.Node, local: set[str], guarded: set[str], defaulted: bool = False) -> None:
    if not isinstance(node, _SAFE_NODES):
        name = type(node).__name__
        walk.error(node, "", f"{name!r} is not allowed in a message template "
                             "(no calls, imports, macros, assignments or blocks)")
        return
    if isinstance(node, nodes.Filter):
        if node.name not in ALLOWED_FILTERS:
            walk.error(node, node.name, f"filter {node.name!r} is not allowed")
            return
        is_default = node.name in ("default", "d")
        if node.node is not None:
            _visit(walk, node.node, local, guarded, defaulted=is_default)
        for child in [*node.args, *node.kwargs]:
            _visit(walk, child, local, guarded)
        return
    if isinstance(node, nodes.Output):
        _check_groups(walk, node, local)
    if isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
        walk.error(node, node.name, f"test {node.name!r} is not allowed")
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        path = _path(node)
        if path is None:
            walk.error(node, "", "only plain variables such as attributes.plan can be read")
            return
        if any(part.startswith("_") for part in path):
            walk.error(node, ".".join(path), f"private attribute {'.'.join(path)!r} is not allowed")
            return
        _check_variable(walk, node, path, local, guarded, defaulted)
        return
    if isinstance(node, nodes.If):
        _visit(walk, node.test, local, guarded | set(_tested_paths(node.test)), defaulted=False)
        inner = guarded | set(_tested_paths(node.test))
        for child in node.body:
            _visit(walk, child, local, inner)
        for elif_ in node.elif_:
            _visit(walk, elif_, local, guarded)
        for child in node.else_:
            _visit(walk, child, local, guarded)
        return
    if isinstance(node, nodes.For):
        _visit(walk, node.iter, local, guarded)
        names = {n.name for n in node.target.find_all(nodes.Name)} | (
            {node.target.name} if isinstance(node.target, nodes.Name) else set())
        for child in [*node.body, *node.else_]:
            _visit(walk, child, local | names | {"loop"}, guarded)
        return
    for child in node.iter_child_nodes():
        _visit(walk, child, local, guarded, defaulted=defaulted and isinstance(node, nodes.CondExpr))


def validate(source: str, spec: TemplateSpec) -> set[str]:
    """Check a template before it is saved; returns the variables it reads.

    Raises:
        ValidationFailed: syntax error, unknown variable, a possibly missing value without a default,
            or an unsafe construct; ``errors`` lists each problem with its line and variable.
    """
    if not source.strip():
        raise ValidationFailed("template body is empty", errors=[{"field": "body", "message": "empty"}])
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise ValidationFailed(f"template syntax error on line {exc.lineno}: {exc.message}",
                               errors=[{"field": "body", "line": exc.lineno, "message": exc.message}]) from None
    walk = _Walk(spec)
    _visit(walk, tree, set(), set())
    for loop in tree.find_all(nodes.For):
        if any(True for _ in loop.find_all(nodes.For)):
            walk.error(loop, "", "loops cannot be nested (a message has no room for their output)")
    if walk.errors:
        raise ValidationFailed("; ".join(e["message"] for e in walk.errors), errors=walk.errors)
    _trial_render(source)
    return walk.variables


def _trial_render(source: str) -> None:
    """Render with no contact, so constant blow-ups (``"x" * 20000000``) fail on save, not on send.

    Only the size limit is reported: with no contact a value may be missing or of another type
    here (an error for this empty context only); a real contact's values meet the same checks
    when the template is rendered for them.
    """
    try:
        Compiled(source).render({"business_name": ""})
    except ValidationFailed:
        raise
    except Exception:  # see above: not an error of the template itself
        pass


def attribute_names(source: str) -> set[str]:
    """The contact attributes ``source`` reads (``attributes.plan``, ``attributes["plan"]``); none when it
    does not parse (a template that cannot be rendered reads nothing)."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError:
        return set()
    paths = (_path(node) for node in tree.find_all((nodes.Getattr, nodes.Getitem)))
    return {path[1] for path in paths if path and len(path) >= 2 and path[0] == "attributes"}


def variable_roots(source: str) -> set[str]:
    """Top-level names a (valid) template reads: ``{"first_name", "attributes"}``..."""
    return set(meta.find_undeclared_variables(_ENV.parse(source)))


class Compiled:
    """A validated template compiled once and rendered per recipient.

    ``language`` is the template's (``Template.language``), the language its text is written in: yes / no and
    numbers are written in it, not in the contact's (a French contact without a translation reads the English text).
    """

    def __init__(self, source: str, language: str = "en") -> None:
        self.source = source
        self.language = language
        self._template = _ENV.from_string(source)

    def render(self, context: Mapping[str, Any]) -> str:
        """The text for ``context``; raises ``ValidationFailed`` past ``MAX_RENDERED_CHARS``."""
        chunks: list[str] = []
        size = 0
        token = _LANGUAGE.set(self.language)
        try:
            for chunk in self._template.generate(context):  # counted as it streams: never built past the cap
                size += len(chunk)
                if size > MAX_RENDERED_CHARS:
                    raise _too_long(size)
                chunks.append(chunk)
        finally:
            _LANGUAGE.reset(token)
        return "".join(chunks).strip()


def contact_context(*, first_name: str | None, name: str | None, language: str | None, country: str | None,
                    timezone: str | None, attributes: Mapping[str, Any] | None, business_name: str,
                    event: Mapping[str, Any] | None = None, prediction: Mapping[str, float] | None = None,
                    recommendations: Sequence[str] | None = None, currency: str = "") -> dict[str, Any]:
    """The render context; ``None`` and empty values are left out so ``default`` applies. ``currency`` is the
    shop's (``campaigns.shop_currency``), which predicted amounts are in and print with."""
    context: dict[str, Any] = {"business_name": business_name, "attributes": as_words(
        {k: v for k, v in (attributes or {}).items() if v not in (None, "")})}
    for key, value in (("first_name", first_name), ("name", name), ("language", language),
                       ("country", country), ("timezone", timezone)):
        if value:
            context[key] = value
    if event is not None:
        context["event"] = as_words(event)  # a list in the payload (an order's items) reads as words
    # always a mapping: prediction.KIND | default(...) works
    context[PREDICTION_ROOT] = {kind: _predicted(kind, value, currency)
                                for kind, value in (prediction or {}).items()}
    if recommendations:
        context[RECOMMENDATIONS_ROOT] = Words(recommendations)
    return context


def footer(language: str | None, stop_number: str = "") -> str:
    """The opt-out line for a marketing message in ``language`` (English when unsupported)."""
    lang = language if language in FOOTERS else "en"
    if lang == "fr" and not stop_number:
        return FOOTER_FR_NO_NUMBER
    return FOOTERS[lang].format(number=stop_number)


def with_footer(text: str, language: str | None, stop_number: str = "") -> str:
    """``text`` with the opt-out footer, unless it already tells how to opt out (says STOP)."""
    if _STOP_WORD.search(text):
        return text
    return f"{text}\n{footer(language, stop_number)}"

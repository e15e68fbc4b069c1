"""Template validation, the sandbox, rendering and the localised opt-out footer."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.templates import Compiled, TemplateSpec, contact_context, footer, validate, with_footer
from core.errors import ValidationFailed

SPEC = TemplateSpec(attributes=("plan", "points"), event_fields=("order.number", "order.total", "tracking_url?"))


def _errors(source: str, spec: TemplateSpec = SPEC) -> list[dict[str, object]]:
    with pytest.raises(ValidationFailed) as caught:
        validate(source, spec)
    return caught.value.errors


def test_valid_template_lists_its_variables() -> None:
    found = validate('Hi {{ first_name | default("there") }}, your {{ attributes.plan | default("") }} plan at '
                     "{{ business_name }}", SPEC)
    assert found == {"first_name", "attributes.plan", "business_name"}


def test_unknown_variable_is_named_with_its_line() -> None:
    errors = _errors('Hello\n{{ frist_name | default("") }}')
    assert errors[0]["variable"] == "frist_name"
    assert errors[0]["line"] == 2
    assert "unknown variable" in str(errors[0]["message"])


def test_undeclared_attribute_and_event_field() -> None:
    assert "unknown attribute 'tier'" in str(_errors('{{ attributes.tier | default("") }}')[0]["message"])
    assert "unknown event field 'order.date'" in str(_errors("{{ event.order.date }}")[0]["message"])


def test_missing_default_is_rejected_but_guards_and_required_fields_pass() -> None:
    errors = _errors("Hi {{ first_name }}")
    assert errors[0]["variable"] == "first_name" and "default" in str(errors[0]["message"])
    assert _errors("Track: {{ event.tracking_url }}")[0]["variable"] == "event.tracking_url"
    validate("{% if first_name %}Hi {{ first_name }}{% endif %} order {{ event.order.number }}", SPEC)
    validate('{{ event.tracking_url | default("") }}', SPEC)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ first_name.__class__ | default('') }}",
        "{% import 'x' as y %}",
        "{% include 'other' %}",
        "{% set x = 1 %}{{ x }}",
        "{% macro m() %}x{% endmacro %}",
        "{{ range(10**9) | join }}",
        "{{ business_name | attr('upper') }}",
        "{{ lipsum() }}",
    ],
)
def test_unsafe_constructs_are_rejected(source: str) -> None:
    assert _errors(source)


def test_syntax_error_reports_the_line() -> None:
    errors = _errors("line one\n{% if first_name %}unclosed")
    assert errors[0]["line"] == 2


def test_render_uses_defaults_and_skips_empty_values() -> None:
    compiled = Compiled('Hi {{ first_name | default("there") }}'
                        "{% if attributes.plan %} ({{ attributes.plan }}){% endif %}!")
    common: dict[str, Any] = {"name": None, "language": "en", "country": "FR", "timezone": None,
                              "business_name": "Acme"}
    assert compiled.render(contact_context(first_name=None, attributes={}, **common)) == "Hi there!"
    assert compiled.render(contact_context(first_name="Zoé", attributes={"plan": "gold"}, **common)) == "Hi Zoé (gold)!"


def test_render_of_a_hole_raises_instead_of_printing_none() -> None:
    with pytest.raises(Exception, match="undefined"):
        Compiled("{{ first_name }}").render({"business_name": "x"})


def test_localised_footer() -> None:
    assert footer("fr", "36180") == "STOP au 36180"
    assert footer("en") == "Reply STOP to opt out"
    assert "STOP" in footer("de") and "STOP" in footer("es") and "STOP" in footer("it") and "STOP" in footer("pt")
    assert footer("nl") == footer("en")
    assert with_footer("Soldes -20%", "fr", "36180") == "Soldes -20%\nSTOP au 36180"
    assert with_footer("Sale! Reply STOP to quit", "en") == "Sale! Reply STOP to quit"


@pytest.mark.parametrize(
    "source",
    [
        '{{ "x" * 20000000 }}',
        '{{ 20000000 * "x" }}',
        '{{ ("x" * 1000) * 1000 }}',
        '{{ ["a"] * 5000 }}',
        '{{ "x" * 1000 + "y" * 1000 }}',
        '{{ ("x" * 1000) | replace("x", "yy") }}',
        '{{ (["ab"] * 1000) | join("xx") }}',
        '{% for c in "x" * 1600 %}ab{% endfor %}',
    ],
)
def test_output_and_values_larger_than_a_message_fail_on_save(source: str) -> None:
    errors = _errors(source)
    assert errors == [{"field": "body", "message": "renders more than 1600 characters"}]


def test_loops_cannot_nest() -> None:
    errors = _errors('{% for a in "ab" %}{% for b in "ab" %}{{ a }}{% endfor %}{% endfor %}')
    assert errors[0]["line"] == 1 and "nested" in str(errors[0]["message"])


def test_a_contacts_values_are_bounded_when_rendered() -> None:
    source = '{{ (first_name | default("")) * 100 }}'
    validate(source, SPEC)  # no contact: renders nothing
    assert Compiled(source).render({"first_name": "Zoé"}) == "Zoé" * 100
    with pytest.raises(ValidationFailed):
        Compiled(source).render({"first_name": "x" * 17})
    assert Compiled('{{ "x" * 1600 }}').render({}) == "x" * 1600


def test_percent_formatting_of_text_is_refused() -> None:
    """``"%99999999s" % "x"`` would build 100 MB in one step, before any length could be checked."""
    errors = _errors('{{ "%99999999s" % "x" }}')
    assert errors == [{"field": "body", "message": "text formatting with % is not allowed"}]
    assert Compiled("{{ 7 % 3 }}").render({}) == "1"

"""The SMS API signature computed by ``SmsSigner`` is the Vonage SDK's, byte for byte, for every method."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vonage_http_client import Auth

from channels.base import SignatureError, WebhookRequest
from channels.vonage_webhooks import SMS_SIGNATURE_METHODS, SmsSigner, VonageSignatureVerifier

SECRET = "sig-secret-0123456789-0123456789-abcdef"
NOW = 1_760_000_000
PAYLOADS = [
    {"timestamp": str(NOW)},
    {"msisdn": "33612345678", "messageId": "0A01", "status": "delivered", "timestamp": str(NOW)},
    {"text": "Bonjour & merci = top", "to": "33700000000", "timestamp": str(NOW)},  # '&' and '=' in values
    {"text": "", "keyword": "", "concat": "", "timestamp": str(NOW)},  # empty values
    {"text": "Ça coûte 5 € — 日本語 😀", "from": "Relais", "timestamp": str(NOW)},  # beyond ASCII
    {"a&b": "1", "c=d": "2", "é": "3", " k ": " v ", "timestamp": str(NOW)},  # keys are signed as they are
    {"message-timestamp": "2026-11-30 04:00:00", "price": "0.03330000", "err-code": "0", "timestamp": str(NOW)},
    {f"field{i:02d}": "x" * i for i in range(40)} | {"timestamp": str(NOW)},
]


def sdk_sig(params: dict[str, str], method: str, secret: str = SECRET) -> str:
    """What the SDK's check_signature compares ``sig`` with: ``sign_params`` over the fields but ``sig``."""
    return Auth(api_key="k", signature_secret=secret, signature_method=method).sign_params(
        {k: v for k, v in params.items() if k != "sig"}
    )


@pytest.mark.parametrize("method", SMS_SIGNATURE_METHODS)
@pytest.mark.parametrize("params", PAYLOADS)
def test_the_signature_is_the_sdks(method: str, params: dict[str, str]) -> None:
    signer = SmsSigner(SECRET, method)
    assert signer.sign(params) == sdk_sig(params, method)
    assert signer.sign({**params, "sig": "whatever"}) == sdk_sig(params, method)  # sig itself is not signed
    assert signer.sign(params) == sdk_sig(params, method)  # the keyed HMAC is copied, never fed


_CHARS = st.characters(codec="utf-8")  # no lone surrogates: they are not UTF-8 (both raise UnicodeEncodeError)
_TEXT = st.text(_CHARS, max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(SMS_SIGNATURE_METHODS),
    secret=st.text(_CHARS, min_size=1, max_size=80),
    fields=st.dictionaries(_TEXT, _TEXT, max_size=15),
    timestamp=st.text(_CHARS, min_size=1, max_size=12),
)
def test_the_signature_is_the_sdks_on_any_fields(
    method: str, secret: str, fields: dict[str, str], timestamp: str
) -> None:
    params = {**fields, "timestamp": timestamp}  # without one the SDK adds the current time; the verifier refuses
    assert SmsSigner(secret, method).sign(params) == sdk_sig(params, method, secret)


@pytest.mark.parametrize("method", SMS_SIGNATURE_METHODS)
def test_a_report_signed_by_the_sdk_verifies_with_its_method_only(method: str) -> None:
    params = {**PAYLOADS[2], "sig": sdk_sig(PAYLOADS[2], method)}
    body = urlencode(params).encode()
    request = WebhookRequest.build(
        method="POST", headers={"content-type": "application/x-www-form-urlencoded"}, body=body
    )
    VonageSignatureVerifier(api_key="k", signature_secret=SECRET, signature_method=method).verify(request, now=NOW)
    upper = WebhookRequest.build(method="GET", query={**params, "sig": params["sig"].upper()})
    VonageSignatureVerifier(api_key="k", signature_secret=SECRET, signature_method=method).verify(upper, now=NOW)
    for other in SMS_SIGNATURE_METHODS:
        if other != method:
            verifier = VonageSignatureVerifier(api_key="k", signature_secret=SECRET, signature_method=other)
            with pytest.raises(SignatureError, match="sig does not match"):
                verifier.verify(request, now=NOW)


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="md5, sha1, sha256, sha512"):
        SmsSigner(SECRET, "md5hash")


def test_without_an_api_key_a_sig_is_not_checked() -> None:
    """As with the SDK's Auth, which refused a signature secret without an api key."""
    params = {**PAYLOADS[1], "sig": sdk_sig(PAYLOADS[1], "sha256")}
    verifier = VonageSignatureVerifier(api_key="", signature_secret=SECRET, signature_method="sha256")
    with pytest.raises(SignatureError, match="api key and signature secret are needed"):
        verifier.verify(WebhookRequest.build(method="GET", query=params), now=NOW)


def test_a_lone_surrogate_fails_as_in_the_sdk() -> None:
    """A JSON body may carry one ("\\ud800"): neither signature can encode it, the same error either way."""
    params = {"text": "\ud800", "timestamp": str(NOW)}
    with pytest.raises(UnicodeEncodeError):
        sdk_sig(params, "sha256")
    with pytest.raises(UnicodeEncodeError):
        SmsSigner(SECRET, "sha256").sign(params)

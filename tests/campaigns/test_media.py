"""MMS attachments of templates and campaigns are checked on save: type, size, URL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from campaigns.schemas import CampaignIn
from tests.helpers import auth_headers

JPEG = {"url": "https://cdn.example/lamp.jpg", "content_type": "image/jpg", "size": 120_000}


def test_valid_media_is_kept_and_normalised() -> None:
    campaign = CampaignIn(
        name="MMS", template_id=1, media=[JPEG, {"url": "https://cdn.example/card.vcf", "content_type": "text/vcard"}]
    )
    assert campaign.media[0] == {**JPEG, "content_type": "image/jpeg", "caption": ""}
    assert campaign.media[1] == {"url": "https://cdn.example/card.vcf", "content_type": "text/vcard", "caption": ""}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"url": "https://cdn.example/a.exe", "content_type": "application/x-msdownload"}, "not accepted for MMS"),
        ({"url": "https://cdn.example/big.mp4", "content_type": "video/mp4", "size": 50_000_000}, "MMS limit"),
        ({"url": "ftp://cdn.example/a.jpg", "content_type": "image/jpeg"}, "url"),
    ],
)
def test_bad_media_is_refused_with_the_reason(item: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CampaignIn(name="MMS", template_id=1, media=[item])


def test_api_answers_422_naming_the_media(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/v1/templates",
        headers=auth_headers("marketer"),
        json={
            "name": "mms",
            "body": "Nouveautés en magasin",
            "media": [{"url": "https://x.example/a.bmp", "content_type": "image/bmp"}],
        },
    )
    assert response.status_code == 422
    assert "media 1" in response.json()["detail"] and "image/bmp" in response.json()["detail"]

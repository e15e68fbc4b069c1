"""More of what a marketer tripped on walking campaign intelligence in Chromium on a fresh demo (issue 14, point 8;
see test_intelligence_walk.py for the earlier walks). Each test fails without its fix."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.console.test_campaign_wizard import marketer_headers, wizard_audience, wizard_form


def test_a_best_time_plan_says_texts_wait_for_their_best_hour_not_a_chosen_time(app_client: TestClient) -> None:
    ids = wizard_audience()
    form = wizard_form(ids, best_time="on", best_start="2030-12-01T09:00", best_end="2030-12-02T20:00",
                       best_holdout="10")  # fmt: skip
    shown = app_client.post("/console/campaigns/wizard/review", data=form, headers=marketer_headers(app_client))
    assert shown.status_code == 200, shown.text
    waits = shown.text[shown.text.index('<ul id="waits">') :].split("</ul>", 1)[0]
    # before: "3 wait for the local time chosen", a time the marketer never chose
    assert "local time chosen" not in waits
    assert ("<strong>3</strong> wait for their best hour in the window (the random-time holdout for a moment drawn "
            "in it), in their own time zone") in waits  # fmt: skip

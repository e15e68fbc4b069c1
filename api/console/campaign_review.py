"""What the campaign wizard shows about a draft: audience, messages, schedule in words, distribution, cost.

The figures come from ``campaigns.preview.estimate`` (preparation's own selection, consent and
frequency cap; the sandboxed renderer and ``channels.encoding``; ``campaigns.plan.distribution``);
this module only words them and scales the distribution's bars. ``forecast`` is the campaign
forecast (``campaigns.forecasting``, worded by ``api.console.forecast_words``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from api.console.campaign_form import (
    ARM_NAMES,
    WEEKDAYS,
    ApiBodies,
    WizardForm,
    problem_label,
    problems_of,
    recurrence,
    to_api,
)
from api.console.campaigns import Bar, bars, exclusion_label
from api.console.forecast_words import facts, uplift_fact
from campaigns import forecasting, plan, preview, scheduling, service
from campaigns.models import Campaign
from campaigns.schemas import ScheduleIn
from campaigns.send_time import model_status
from core.errors import NotFound, ValidationFailed

#: at most this many hourly bars; a longer spread is drawn per day
MAX_HOUR_BARS = 24
WAIT_WORDS = {
    "quiet_hours": "wait for the end of the quiet hours in the recipient's zone",
    "country_rule": "wait for their country's sending hours (or the next open day)",
    "scheduled": "wait for the local time chosen",
    "throttled": "are spaced out by the send-rate limit",
    "ab_winner": "wait for the A/B winner (the rest of the audience)",
    "adaptive_batch": "wait for their batch of the adaptive test",
}
#: a best-time campaign's planned texts wait as "scheduled" too, for each recipient's own moment: "wait for the local
#: time chosen" named a time the marketer never chose
BEST_TIME_WAIT = ("wait for their best hour in the window (the random-time holdout for a moment drawn in it), in "
                  "their own time zone")

#: waits of the sending window, which the confirmation adds to when the campaign goes
_WINDOW_WAITS = frozenset({WAIT_WORDS["quiet_hours"], WAIT_WORDS["country_rule"]})
#: the verbs the wait sentences start with, for one message ("1 wait for the local time chosen")
_ONE = {"wait ": "waits ", "are ": "is ", "get ": "gets "}


def agreeing(words: str, n: int) -> str:
    """A wait sentence after its count: its verb for one message, as written for several otherwise."""
    for many, one in _ONE.items():
        if n == 1 and words.startswith(many):
            return one + words.removeprefix(many)
    return words


@dataclass
class Review:
    """The wizard's right-hand figures; ``problems`` (by form field) when the draft cannot be estimated."""

    problems: dict[str, str] = field(default_factory=dict)
    audience: preview.Audience | None = None
    estimate: preview.Estimate | None = None
    exclusions: list[tuple[str, str, int]] = field(default_factory=list)  # code, words, count
    when: str = ""
    window: list[str] = field(default_factory=list)
    spread: list[Bar] = field(default_factory=list)
    spread_unit: str = "hour"
    zone: str = "UTC"  # the campaign's, which the spread's hours are in
    waits: list[tuple[str, int]] = field(default_factory=list)
    forecast: dict[str, str] = field(default_factory=dict)  # label -> expected value with its intervals
    metric_notes: list[str] = field(default_factory=list)  # arms a test on clicks cannot tell apart (no link)

    def asked(self) -> str:
        """When it goes, for the confirmation question, with the texts that wait and, when all do, the first time.

        "As soon as you confirm." alone was asked at midnight of a campaign whose texts all waited for 08:00:
        the plan under the form said so, the question did not.
        """
        hours = self.estimate.distribution.hours if self.estimate is not None else ()
        closed = [(words, n) for words, n in self.waits if words in _WINDOW_WAITS]  # the others: said by `when`
        if not closed or not hours:
            return self.when
        waiting = "; ".join(f"{n} {agreeing(words, n)}" for words, n in closed)
        if sum(n for _, n in closed) < sum(n for _, n in hours):
            return f"{self.when} Of them, {waiting}."
        first = hours[0][0].astimezone(scheduling.zone(self.zone))
        return f"{self.when} All {waiting}: the first go out from {first:%a %d %b %H:%M} ({self.zone})."

    def segments_said(self) -> list[str]:
        """Each arm's segments per message as the review shows them: whole, or its recipients' mean ("1.6 on
        average"), with the encoding of the sample contact's text."""
        if self.estimate is None:
            return []
        said = []
        for (name, shown), n in zip(self.estimate.messages, self.estimate.segments, strict=True):
            figure = f"{n:g}" if n.is_integer() else f"{n:.1f} on average"
            said.append(f"{name + ': ' if name else ''}{figure} ({shown.encoding})")
        return said

    def waits_said(self) -> list[tuple[str, int]]:
        """The waits as the page lists them, each sentence agreeing with its count."""
        return [(agreeing(words, n), n) for words, n in self.waits]

    def listed(self) -> list[tuple[str, str, str]]:
        """The problems for the list at the top: the control's id, its label in words, the message."""
        return [(*problem_label(name), message) for name, message in self.problems.items()]


def window_words(quiet_start: str, quiet_end: str, country_rules: bool) -> list[str]:
    """The delivery window in sentences: the quiet hours, then each country rule that narrows them."""
    lines = [f"Messages go between {quiet_end} and {quiet_start} in each recipient's own time zone; "
             f"one due during the quiet hours waits for {quiet_end}."]
    if not country_rules:
        return [*lines, "Country rules are switched off for this campaign."]
    for code, rule in sorted(scheduling.COUNTRY_RULES.items()):
        closed = [what for what, on in (("Sundays", rule.no_sundays), ("public holidays", rule.no_holidays)) if on]
        name = scheduling.COUNTRY_NAMES.get(code, code)
        lines.append(f"{name}: {rule.start:%H:%M}–{rule.end:%H:%M} at the latest"
                     + (f", never on {' or '.join(closed)}" if closed else "") + " (country rule).")
    return lines


def when_words(wizard: WizardForm, start: datetime | None) -> str:
    """When the campaign goes, in a sentence (the confirmation dialog asks with it)."""
    said = _when(wizard, start)
    if wizard.best_time and wizard.when in ("now", "at") and wizard.best_start and wizard.best_end:
        # "As soon as you confirm." alone was asked for texts planned days later
        said += (f" Each recipient then gets it at their best hour between {wizard.best_start.replace('T', ' ')} "
                 f"and {wizard.best_end.replace('T', ' ')} in their own time zone.")
    return said


def _when(wizard: WizardForm, start: datetime | None) -> str:
    zone = wizard.timezone
    if wizard.when == "at":
        if start is None:
            return "On the date and at the time chosen."
        return f"On {start.astimezone(scheduling.zone(zone)):%A %d %B %Y at %H:%M} ({zone})."
    if wizard.when == "local":
        return (f"On {wizard.local_date} at {wizard.local_time} in each recipient's own time zone "
                f"(contacts without one: {zone}).")
    if wizard.when == "recurring":
        # the first run in the campaign's zone, named: "08:00 UTC" beside "Every day at 09:00 (Europe/Paris)"
        # read as two different times
        first = f"; first send {start.astimezone(scheduling.zone(zone)):%a %d %b %H:%M} ({zone})." if start else "."
        if wizard.repeat == "daily":
            return f"Every day at {wizard.repeat_time} ({zone}){first}"
        if wizard.repeat == "weekly":
            return f"Every {WEEKDAYS[wizard.repeat_day]} at {wizard.repeat_time} ({zone}){first}"
        return f"By the rule {wizard.recurrence} ({zone}){first}"
    return "As soon as you confirm."


def wait_words(code: str, spread: plan.Distribution, zone: str, *, best_time: bool = False) -> str:
    """Why some planned messages wait, in words; the A/B winner's moment in the campaign's zone, named
    (the planner's "(Tue 14:00 UTC)" beside a schedule said in Europe/Paris read as two times); with
    ``best_time``, a scheduled text waits for its recipient's best hour."""
    if code == "scheduled" and best_time:
        return BEST_TIME_WAIT
    words = WAIT_WORDS.get(code, code)
    if code == "ab_winner" and spread.winner_at is not None:
        at = spread.winner_at.astimezone(scheduling.zone(zone))
        return f"wait for the A/B winner, chosen {at:%a %d %b at %H:%M} ({zone}); the rest of the audience then gets it"
    if code == "adaptive_batch" and spread.last_batch_at is not None:
        at = spread.last_batch_at.astimezone(scheduling.zone(zone))
        return (f"{words}, the last one prepared {at:%a %d %b at %H:%M} ({zone}) at the latest; once a template "
                "is clearly best, the rest get it without waiting")
    return words


def _held_back(wizard: WizardForm, spread: plan.Distribution) -> list[tuple[str, int]]:
    """An adaptive test's control, which the planned sends leave out: it gets no message, so the lift is measured."""
    if wizard.mode != "adaptive" or not spread.held_back:
        return []
    return [(f"get no message: the control ({wizard.control_percent} % of each batch) the lift is measured against",
             spread.held_back)]


def _batches_at_best_time(wizard: WizardForm, spread: plan.Distribution, best_time: bool) -> list[str]:
    """An adaptive test at best times, said plainly: each batch waits for the one before to go at its best hours
    (``campaigns.adaptive.must_wait``), so the test runs over days, not ``batch_minutes`` apart."""
    if wizard.mode != "adaptive" or not best_time or spread.last_batch_at is None:
        return []
    at = spread.last_batch_at.astimezone(scheduling.zone(wizard.timezone))
    return [f"Adaptive test at best times: the bandit splits each batch only after the texts of the batch before went "
            f"at their recipients' best hours, then waits {wizard.batch_minutes} minutes for their results, so it "
            f"learns between batches; the last batch is prepared {at:%a %d %b at %H:%M} ({wizard.timezone}) at the "
            f"latest (the test stops after {wizard.max_hours} hours and the rest get the most probably best)."]


def _untested(wizard: WizardForm, spread: plan.Distribution) -> list[tuple[str, int]]:
    """An A/B test whose test group holds fewer recipients than it has arms, said with what follows: 3 recipients
    at 20 % put nobody in the test group, so every one waited 4 hours for a "winner" no arm had been tried for (a
    tie, the first arm kept), and the wizard only said "3 wait for the A/B winner"."""
    arms, total, tested = len(wizard.arms), spread.total, spread.tested
    if wizard.mode != "ab" or not total or tested >= arms:
        return []
    return [(f"of the {total} recipients fall in the test group ({wizard.test_percent} %) for {arms} arms: "
             + ("no arm is tried, so the winner is a tie and the first arm goes to everyone" if tested == 0 else
                "some arms are tried on nobody")
             + "; raise the test group's share, or send one template", tested)]


def start_of(wizard: WizardForm, schedule: ScheduleIn, *, now: datetime) -> datetime:
    """When the first run would begin (the moment the distribution is planned from)."""
    if wizard.when == "recurring":
        rule = recurrence(wizard)
        scheduling.validate_recurrence(rule)
        first = scheduling.next_occurrence(rule, after=now, tz=scheduling.zone(wizard.timezone), start=now)
        if first is None:
            raise ValidationFailed("the rule has no occurrence after now",
                                   errors=[{"field": "recurrence", "message": "no occurrence after now"}])
        return first
    return max(schedule.send_at, now) if schedule.send_at else now


def _spread(estimate: preview.Estimate, zone: ZoneInfo) -> tuple[list[Bar], str]:
    hours = estimate.distribution.hours
    if len(hours) <= MAX_HOUR_BARS:
        return bars([(f"{at.astimezone(zone):%a %d %b %H:00}", n) for at, n in hours]), "hour"
    days: dict[str, int] = {}
    for at, n in hours:
        label = f"{at.astimezone(zone):%a %d %b}"
        days[label] = days.get(label, 0) + n
    return bars(list(days.items())), "day"


def _exclusions(excluded: dict[str, int]) -> list[tuple[str, str, int]]:
    return sorted(((code, exclusion_label(code), n) for code, n in excluded.items() if n), key=lambda e: -e[2])


def _audience_only(session: Session, wizard: WizardForm, draft_id: int | None, now: datetime) -> Review:
    """The audience alone (the message or schedule is not complete yet)."""
    segment_id = int(wizard.segment) if wizard.segment.isdigit() else None
    cap = int(wizard.frequency_cap) if wizard.frequency_cap.isdigit() else 3
    days = int(wizard.frequency_days) if wizard.frequency_days.isdigit() and int(wizard.frequency_days) else 7
    probe = Campaign(id=draft_id, segment_id=segment_id, segment={}, frequency_cap=cap, frequency_days=days)
    found = preview.audience(session, probe, now=now)
    return Review(audience=found, exclusions=_exclusions(found.excluded))


def _metric_notes(session: Session, wizard: WizardForm) -> list[str]:
    """The arms of the wizard's test on clicks that have no link (``service.unclickable_arms``), as soon as their
    templates are chosen: the rest of the form need not be complete for this to be known."""
    if wizard.mode not in ("ab", "adaptive"):
        return []
    arms = [{"name": ARM_NAMES[i], "template_id": int(arm.template_id)}
            for i, arm in enumerate(wizard.arms[: len(ARM_NAMES)]) if arm.template_id.isdigit()]  # fmt: skip
    return service.unclickable_arms(session, {"metric": wizard.metric, "arms": arms})


def _unnamed(wizard: WizardForm, bodies: ApiBodies) -> ApiBodies:
    """The bodies with a stand-in name when the name is the one thing missing (its problem kept).

    The text, the schedule and the forecast do not depend on the name, and a marketer reads them
    before naming the campaign: the wizard hid the message until a name was typed.
    """
    if bodies.campaign is not None or set(bodies.problems) != {"name"}:
        return bodies
    named = to_api(replace(wizard, name="Unnamed campaign"))
    return ApiBodies(named.campaign, named.schedule, bodies.problems) if named.campaign is not None else bodies


def review(session: Session, wizard: WizardForm, bodies: ApiBodies, *, draft_id: int | None, now: datetime,
           admin: bool = False) -> Review:
    """The review of the wizard's current values; a problem is reported by field, never raised. ``admin``:
    the forecast names the settings an administrator changes (``forecast_words.for_reader``)."""
    bodies = _unnamed(wizard, bodies)
    notes = _metric_notes(session, wizard)
    words = window_words(wizard.quiet_start, wizard.quiet_end, wizard.respect_country_rules)
    best = bodies.campaign.send_time if bodies.campaign is not None else None
    if best is not None:
        words = [*words, f"Best time: each recipient at their best hour between {best.start.replace('T', ' ')} and "
                 f"{best.end.replace('T', ' ')} in their own zone; {best.holdout:.0%} at a random time in the same "
                 f"window, the holdout the report measures the gain against. {model_status(session).note}"]
    try:
        if bodies.campaign is None or bodies.schedule is None:
            partial = _audience_only(session, wizard, draft_id, now)
            partial.problems, partial.window, partial.when = bodies.problems, words, when_words(wizard, None)
            partial.metric_notes = notes
            return partial
        service.check_campaign(session, bodies.campaign)
        start = start_of(wizard, bodies.schedule, now=now)
        probe = Campaign(**bodies.campaign.model_dump(), id=draft_id, local_time=bodies.schedule.local_time,
                         local_date=bodies.schedule.local_date)
        estimate = preview.estimate(session, probe, start=start, now=now)
    except (ValidationFailed, NotFound) as exc:
        problems = {**bodies.problems, **problems_of(exc.errors, exc.detail)}
        return Review(problems=problems, window=words, when=when_words(wizard, None), metric_notes=notes)
    spread, unit = _spread(estimate, scheduling.zone(wizard.timezone))
    waits = sorted(((wait_words(code, estimate.distribution, wizard.timezone, best_time=wizard.best_time), n)
                    for code, n in estimate.distribution.waits.items()), key=lambda w: -w[1])
    waits += _untested(wizard, estimate.distribution) + _held_back(wizard, estimate.distribution)
    words += _batches_at_best_time(wizard, estimate.distribution, best is not None)
    return Review(problems=dict(bodies.problems), audience=estimate.audience, estimate=estimate,
                  exclusions=_exclusions(estimate.audience.excluded),
                  when=when_words(wizard, start), window=words, spread=spread, spread_unit=unit,
                  zone=wizard.timezone, waits=waits, metric_notes=notes,
                  forecast={**facts(forecasting.forecast_for(session, probe, estimate), admin=admin),
                            **uplift_fact(session, [c for c, _, _ in estimate.audience.recipients])})

"""The review flow against a real Prefect server: every route, loops, replays, refusals."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import time
import xml.etree.ElementTree as ET
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import Artifact, FlowRun
from prefect.client.schemas.sorting import ArtifactSort

from models.runs import step_of_wait
from tests.conftest import make_referral, tags_implied_by_status
from tests.flows import answers as A
from tests.flows.conftest import RegisterReader, ReviewDriver


def start(driver: ReviewDriver, register: RegisterReader, agency_reference: str, **referral: Any) -> tuple[UUID, str]:
    run_id = driver.start(make_referral(agency_reference=agency_reference, **referral))
    return run_id, register.reference(agency_reference)


def read_run(run_id: UUID) -> FlowRun:
    async def read() -> FlowRun:
        async with get_client() as client:
            return await client.read_flow_run(run_id)

    return asyncio.run(read())


def task_run_names(run_id: UUID, expected: set[str], within: float = 20.0) -> set[str]:
    """The names of the run's task runs, once ``expected`` are among them (the server records task
    runs from the events the engine sends, a moment after the run's body returned)."""

    async def read() -> set[str]:
        async with get_client() as client:
            found = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            return {t.name for t in found}

    deadline = time.monotonic() + within
    while not expected <= (names := asyncio.run(read())) and time.monotonic() < deadline:
        time.sleep(0.5)
    return names


def task_run_count(run_id: UUID, name: str) -> int:
    """How many of the run's task runs bear ``name``."""

    async def read() -> int:
        async with get_client() as client:
            found = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            return sum(1 for t in found if t.name == name)

    return asyncio.run(read())


def standing(register: RegisterReader, ref: str) -> set[str]:
    """Our tags of a run suspended on the open step: as ``lcspr status`` implies them, and the wait tag of that
    step (``models.run_tags``: what ``lcspr list`` counts)."""
    from services import queries

    step = queries.status(register.app, ref)["open_step"]
    return tags_implied_by_status(register.app, ref) | ({f"wait:{step['key']}"} if step else set())


def test_a_full_lcspr_runs_from_referral_to_closure(driver, register):
    """Each step suspends the run; its answer moves the register on, through two draft rounds and a deferral."""
    run_id, ref = start(driver, register, "FLOW-FULL")
    for expected, answer in A.FULL_LCSPR:
        assert driver.state(run_id).name == "Suspended"
        assert register.open_key(ref) == expected
        driver.answer(run_id, answer)
    assert driver.state(run_id).is_completed()
    assert register.open_key(ref) is None
    review = register.load(ref)
    assert review.stage == "closed"
    assert review.draft_round == 2 and review.deferrals == 1
    assert review.published_on is not None
    clocks = {c.key: c for c in review.clocks}
    assert clocks["rapid_review"].met_on is not None
    assert clocks["deferral_review:deferral-1"].met_on is not None
    assert clocks["publication"].met_on is not None
    assert all(c.met_on or c.stopped_on or c.kind == "stays_published" for c in review.clocks)
    accepted = [d.key for d in register.decisions(ref) if d.accepted]
    assert accepted == [key for key, _ in A.FULL_LCSPR]
    assert register.verify_audit(ref) == []
    assert_artifacts_tell_the_whole_story(run_id, ref, review)


def assert_artifacts_tell_the_whole_story(run_id: Any, ref: str, review: Any) -> None:
    """After a whole lifecycle: the review's artifacts under their keys, one version per change (the
    summary changes with every answer: the step awaited moves on), every chart decodes, and the run's
    tags say what the register says."""
    prefix = f"review-{ref.lower()}"
    versions = {part: artifact_versions(f"{prefix}-{part}") for part in ("summary", "timeline", "progress")}
    assert len(versions["summary"]) == 1 + len(A.FULL_LCSPR)
    for part, found in versions.items():
        assert all(a.data != b.data for a, b in itertools.pairwise(found)), f"{part}: a version repeats"
        assert all(v.flow_run_id == run_id for v in found)
    for version in versions["timeline"]:
        (encoded,) = re.findall(r"\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", version.data)
        assert ET.fromstring(base64.b64decode(encoded).decode("utf-8")).tag == "{http://www.w3.org/2000/svg}svg"
    assert "Closed" in versions["summary"][-1].data

    async def tags() -> list[str]:
        async with get_client() as client:
            return list((await client.read_flow_run(run_id)).tags)

    assert {"lcspr", f"stage:{review.stage.value}", f"route:{review.route.value}"} <= set(asyncio.run(tags()))


def test_the_flow_run_is_named_by_the_review_reference(driver, register):
    run_id, ref = start(driver, register, "FLOW-NAME")

    async def name() -> str:
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).name

    assert asyncio.run(name()) == ref


def test_the_run_is_tagged_with_where_the_review_stands_and_its_task_runs_read_as_steps(
        driver, register, deployment_id):
    """The UI's run list filters by stage, route and RAG, and a run's task runs say what was done."""

    async def create() -> FlowRun:
        async with get_client() as client:
            referral = make_referral(agency_reference="FLOW-TAGS").model_dump(mode="json")
            return await client.create_flow_run_from_deployment(
                deployment_id, parameters={"referral": referral}, tags=["team-b"])  # not ours: kept

    run_id = asyncio.run(create()).id
    assert driver.run_until_waiting(run_id) == "Suspended"
    ref = register.reference("FLOW-TAGS")
    tags = read_run(run_id).tags
    assert "team-b" in tags and "stage:referred" in tags
    assert set(tags) - {"team-b"} == standing(register, ref)
    assert any(t.startswith("rag:") for t in tags) and not any(t.startswith("route:") for t in tags)

    driver.answer(run_id, A.NOTIFIED)
    tags = read_run(run_id).tags
    assert "stage:rapid_review" in tags and "stage:referred" not in tags
    assert set(tags) - {"team-b"} == standing(register, ref)

    for answer in (A.RAPID_REVIEW, A.LCSPR):
        driver.answer(run_id, answer)
    tags = read_run(run_id).tags
    assert {"team-b", "stage:informing_bodies", "route:lcspr"} <= set(tags)
    assert set(tags) - {"team-b"} == standing(register, ref)
    assert len(tags) == len(set(tags))
    run = read_run(run_id)
    assert f"wait:{run.state.state_details.pause_key}" in run.tags
    # And in the register, which `lcspr list` trusts with Prefect's count of the paused runs.
    with register.app.uow() as uow:
        assert uow.reviews.run_pointers([ref])[0].run_waits_on == step_of_wait(run.state.state_details.pause_key)

    expected = {"Register the referral", f"Link this run to {ref}", f'Name this run "{ref}"', "Update tags",
                "Read the open step", "Send pending messages", "Wait key for notification-1",
                "Record the answer to notification-1", "Record the answer to chair-decision-1"}
    names = task_run_names(run_id, expected)
    assert expected <= names
    # Not one left with Prefect's generated name (``read-open-step-fac``), none naming the child.
    assert all(n[0].isupper() for n in names), sorted(names)
    # Named once, at its first start (it was created with a generated name), not again at each of the resumes.
    assert read_run(run_id).name == ref
    assert task_run_count(run_id, f'Name this run "{ref}"') == 1
    assert not any("Child" in n or "FLOW-TAGS" in n for n in names)


@pytest.mark.parametrize(
    ("outcome", "then"),
    [
        ("no_further_review", []),
        ("national_review", []),
        ("reflective_learning_session",
         [("learning-review-1", A.a(decided_on="2026-05-01", learning="Agencies to escalate disagreements sooner.")),
          ("closure-1", A.a(decided_on="2026-05-20", impact_evidence="Learning briefing issued to all agencies."))]),
        ("practice_review",
         [("learning-review-1", A.a(decided_on="2026-05-01", learning="Agencies to escalate disagreements sooner.",
                                    recommendations="Publish an escalation protocol")),
          ("action-1", A.a(decided_on="2026-05-02", recommendation_number=1, owner_agency="Frimley ICB",
                           action="Publish the escalation protocol", due_on="2026-07-01", last_action=True)),
          ("action-update-1", A.a(decided_on="2026-06-20", action_number=1, evidence="Protocol published.")),
          ("closure-1", A.a(decided_on="2026-07-10", impact_evidence="Escalations logged within 2 days now."))]),
    ],
)
def test_every_other_route_ends_closed(driver, register, outcome, then):
    run_id, ref = start(driver, register, f"FLOW-{outcome}")
    decision = {**A.LCSPR, "outcome": outcome}
    for answer in (A.NOTIFIED, A.RAPID_REVIEW, decision):
        driver.answer(run_id, answer)
    for expected, answer in then:
        assert register.open_key(ref) == expected
        driver.answer(run_id, answer)
    assert register.open_key(ref) is None
    assert driver.state(run_id).is_completed()
    review = register.load(ref)
    assert review.stage == "closed"
    assert review.route == {"no_further_review": "no_further_review", "national_review": "national_review"}.get(
        outcome, "learning_review")


def test_a_resumed_run_replayed_twice_from_the_top_changes_nothing(driver, register, mailbox):
    run_id, ref = start(driver, register, "FLOW-REPLAY")
    driver.answer(run_id, A.NOTIFIED)
    before = register.ledger(ref)
    audit_before = len(register.audit_trail(ref))
    mail_before = len([m for m in mailbox.messages() if f"[{ref}]" in m["Subject"]])
    # A worker dying and the run being started again re-runs the body from the top; each time the
    # unanswered wait's key is used up, so the step is asked again under the next one.
    for attempt in (2, 3):
        assert driver.restart(run_id) == "Suspended"
        assert driver.state(run_id).state_details.pause_key == f"rapid-review-1-wait-{attempt}"
    assert register.ledger(ref) == before
    assert len(register.audit_trail(ref)) == audit_before
    assert register.open_key(ref) == "rapid-review-1"
    assert len([m for m in mailbox.messages() if f"[{ref}]" in m["Subject"]]) == mail_before


def test_an_answer_the_server_rejects_leaves_the_step_open(driver, register):
    """An outcome outside the form's choices is refused by the server: the run stays suspended."""
    run_id, ref = start(driver, register, "FLOW-REJECT")

    async def resume() -> Any:
        async with get_client() as client:
            return await client.resume_flow_run(run_id, run_input={**A.NOTIFIED, "outcome": "maybe"})

    response = asyncio.run(resume())
    assert response.status.value == "REJECT"
    assert driver.state(run_id).name == "Suspended"
    assert register.open_key(ref) == "notification-1"
    assert register.decisions(ref) == []


def test_an_answer_the_rules_refuse_is_asked_again_with_the_reason(driver, register):
    run_id, ref = start(driver, register, "FLOW-REFUSE")
    driver.answer(run_id, {**A.NOTIFIED, "decided_on": "2026-03-01"})  # before the step opened (aware 03-03)
    assert driver.state(run_id).name == "Suspended"
    step = register.open_step(ref)
    assert step is not None
    assert step.key == "notification-1-retry-2"
    assert "before this step opened" in step.last_refusal
    assert register.load(ref).stage == "referred"
    assert register.ledger(ref) == [("notification-1", False)]
    driver.answer(run_id, A.NOTIFIED)
    assert register.open_key(ref) == "rapid-review-1"


def test_the_form_asked_again_shows_the_refusal_first_and_holds_the_refused_answers_values(driver, register):
    """The UI reads the run's keyset from its state, fills the form from the schema's defaults and shows
    the description above it: nothing the person gave that could be kept is typed twice."""
    run_id, ref = start(driver, register, "FLOW-PREFILL")
    refused = {**A.NOTIFIED, "decided_on": "2026-03-01"}  # before the step opened (aware 03-03)
    driver.answer(run_id, refused)
    assert register.open_key(ref) == "notification-1-retry-2"
    keyset = driver.state(run_id).state_details.run_input_keyset
    assert keyset == {"description": "suspended-notification-1-retry-2-description",
                      "response": "suspended-notification-1-retry-2-response",
                      "schema": "suspended-notification-1-retry-2-schema"}

    async def stored(key: str) -> Any:
        async with get_client() as client:
            return json.loads(await client.read_flow_run_input(run_id, key))

    schema, description = asyncio.run(stored(keyset["schema"])), asyncio.run(stored(keyset["description"]))
    assert {name: p["default"] for name, p in schema["properties"].items() if "default" in p} == {
        **refused, "rationale": ""}
    assert schema["properties"]["decided_on"]["title"] == "Date"  # the form's own labels, not the field names
    assert description.startswith("> **The previous answer was refused:** The date given (2026-03-01) is before "
                                  "this step opened")
    driver.answer(run_id, A.NOTIFIED)
    assert register.open_key(ref) == "rapid-review-1"


def test_a_date_the_server_lets_through_in_the_wrong_format_is_asked_again(driver, register):
    """The server ignores format: date; the flow must not fail on a person's input."""
    run_id, ref = start(driver, register, "FLOW-DATE")
    state = driver.answer(run_id, {**A.NOTIFIED, "decided_on": "05/03/2026"})
    assert state == "Suspended"
    step = register.open_step(ref)
    assert step is not None
    assert step.key == "notification-1-retry-2"
    assert "decided_on" in step.last_refusal
    assert register.ledger(ref) == [("notification-1", False)]
    driver.answer(run_id, A.NOTIFIED)
    assert register.open_key(ref) == "rapid-review-1"


def test_a_second_run_for_the_same_referral_does_not_open_a_second_review(driver, register):
    run_id, ref = start(driver, register, "FLOW-DUP")
    second = driver.start(make_referral(agency_reference="FLOW-DUP"))
    assert driver.state(second).is_completed()
    assert read_run(second).name == f"{ref} (repeat referral)"
    assert register.flow_run_id(ref) == str(run_id)
    assert register.references(include_closed=True).count(ref) == 1
    attached = [e.detail["flow_run_id"] for e in register.audit_trail(ref) if e.event == "flow_run_attached"]
    assert attached == [str(run_id)]


def test_people_hear_when_a_step_opens_and_the_business_unit_gets_the_statutory_message(driver, register, mailbox):
    run_id, ref = start(driver, register, "FLOW-MAIL", child_pseudonym="Child Q",
                        outline="CANARY-OUTLINE the outline must never leave the register.")
    for answer in (A.NOTIFIED, A.RAPID_REVIEW, A.LCSPR):
        driver.answer(run_id, answer)
    mine = [m for m in mailbox.messages() if f"[{ref}]" in m["Subject"]]
    subjects = [(m["To"], m["Subject"]) for m in mine]
    assert any(to == "business_unit@partnership.test" and "Serious incident notification" in s for to, s in subjects)
    assert any(to == "safeguarding_partners@partnership.test" and "Rapid Review" in s for to, s in subjects)
    assert any(to == "independent_chair@partnership.test" for to, _ in subjects)
    statutory = [m for m in mine if m["To"] == "business_unit@partnership.test" and "DfE" in m["Subject"]]
    assert len(statutory) >= 1
    for m in mine:
        body = m.get_body(("plain", "html")).get_content()
        assert "Child Q" not in body and "CANARY-OUTLINE" not in body
        assert ref in body
        assert f"/v2/runs/flow-run/{run_id}" in body.replace("=\n", "")  # the run's page, with its Resume form
    # Each announcement once, even though the flow body re-ran from the top at every resume.
    assert len(subjects) == len(set(subjects))


def test_a_referral_refused_by_the_rules_fails_the_run_with_the_reason_and_writes_nothing(driver, register):
    """A Custom run from the UI bypasses `lcspr refer`: the flow itself refuses, saying why."""
    run_id = driver.start(make_referral(agency_reference="FLOW-NO-DSL", dsl_consulted=False))
    state = driver.state(run_id)
    assert state.is_failed()
    assert "Designated Safeguarding Lead" in state.message
    assert read_run(run_id).name == "Refused referral"
    assert register.find("FLOW-NO-DSL") is None


def test_a_referral_refused_for_identifying_details_leaves_no_copy_in_prefect(driver, register):
    """Prefect stored the Custom run's parameters before the flow judged them: the flow blanks the free text."""
    run_id = driver.start(make_referral(agency_reference="FLOW-POSTCODE",
                                        outline="Injury at the family home, HP19 8FF, reported by school."))
    state = driver.state(run_id)
    assert state.is_failed()
    assert "could identify a child" in state.message and "HP19" not in state.message
    assert register.find("FLOW-POSTCODE") is None

    async def parameters() -> dict[str, Any]:
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).parameters

    stored = asyncio.run(parameters())["referral"]
    assert "HP19" not in str(stored)
    assert stored["outline"].startswith("[removed") and stored["agency_reference"].startswith("[removed")
    assert stored["dsl_consulted"] is True


def test_the_deployment_offers_the_referral_as_a_form(deployment_id):
    """The UI's Custom run form is built from this schema: every referral field, described, required ones marked."""

    async def schema() -> dict[str, Any]:
        async with get_client() as client:
            return (await client.read_deployment(deployment_id)).parameter_openapi_schema

    s = asyncio.run(schema())
    referral = s["definitions"]["Referral"]
    assert {"referring_agency", "agency_reference", "dsl_consulted", "la_aware_date", "abuse_or_neglect", "harm",
            "child_pseudonym", "outline"} <= set(referral["required"])
    assert referral["properties"]["child_pseudonym"]["description"].startswith("Pseudonym only")
    assert referral["properties"]["harm"]["enum"] == ["died", "seriously_harmed", "neither"]


def test_an_answer_with_an_nhs_number_is_refused_and_prefect_keeps_no_copy_of_it(driver, register):
    """Prefect stores every resume input; a refused one may hold an identifier, so it is deleted."""
    run_id, ref = start(driver, register, "FLOW-NHS")
    driver.answer(run_id, {**A.NOTIFIED, "outcome": "not_notifiable", "rationale": "NHS number 943 476 5919"})
    step = register.open_step(ref)
    assert step is not None
    assert step.key == "notification-1-retry-2"
    assert "pseudonym" in step.last_refusal and "943" not in step.last_refusal
    assert register.ledger(ref) == [("notification-1", False)]
    assert all("943" not in str(d.payload) for d in register.decisions(ref))
    assert all("943" not in str(e.detail) for e in register.audit_trail(ref))

    async def stored_inputs() -> list[str]:
        async with get_client() as client:
            found = await client.filter_flow_run_input(run_id, key_prefix="suspended-", limit=50, exclude_keys=set())
            return [i.key for i in found if i.key.endswith("-response")]

    assert asyncio.run(stored_inputs()) == []
    driver.answer(run_id, A.NOTIFIED)
    assert asyncio.run(stored_inputs()) == ["suspended-notification-1-retry-2-response"]


def artifact_versions(key: str) -> list[Artifact]:
    """Every version Prefect holds under ``key``, oldest first."""

    async def read() -> list[Artifact]:
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                               sort=ArtifactSort.CREATED_DESC)

    return list(reversed(asyncio.run(read())))


def test_a_reviews_artifacts_get_one_version_at_start_and_one_per_answer_never_one_from_a_replay(driver, register):
    """The resume re-runs the flow from the top and publishes again: that adds nothing; the answer adds one."""
    run_id, ref = start(driver, register, "FLOW-ARTIFACTS")
    prefix = f"review-{ref.lower()}"
    assert [len(artifact_versions(f"{prefix}-{part}")) for part in ("summary", "timeline", "progress")] == [1, 1, 1]

    driver.answer(run_id, A.NOTIFIED)
    summary, timeline, progress = (artifact_versions(f"{prefix}-{p}") for p in ("summary", "timeline", "progress"))
    assert [len(summary), len(timeline), len(progress)] == [2, 2, 2]
    assert all(v.flow_run_id == run_id for v in [*summary, *timeline, *progress])
    assert (summary[-1].type, timeline[-1].type, progress[-1].type) == ("markdown", "markdown", "progress")
    assert "`rapid-review-1`" in summary[-1].data and "| Stage | Rapid review |" in summary[-1].data
    assert (progress[0].data, progress[-1].data) == (0.0, 6.2)

    (encoded,) = re.findall(r"\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", timeline[-1].data)
    svg = ET.fromstring(base64.b64decode(encoded).decode("utf-8"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    labels = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Serious incident notification", "Rapid review"} <= labels

    # Run again from the top with nothing new (a reconcile's restart): no new version anywhere.
    portfolio = artifact_versions("lcspr-portfolio")
    assert ref in portfolio[-1].data
    assert driver.restart(run_id) == "Suspended"
    assert [len(artifact_versions(f"{prefix}-{part}")) for part in ("summary", "timeline", "progress")] == [2, 2, 2]
    assert len(artifact_versions("lcspr-portfolio")) == len(portfolio)
    assert "Child A" not in summary[-1].data + timeline[-1].data + portfolio[-1].data


def task_runs_by_name(run_id: UUID) -> dict[str, int]:
    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))

    counts: dict[str, int] = {}
    for t in asyncio.run(read()):
        counts[t.name] = counts.get(t.name, 0) + 1
    return counts


def test_a_run_resumed_with_its_answer_records_it_first_and_shows_the_review_once(driver, register, mailbox):
    """The run body starts from the top at every resume. With the answer already in, it neither updates
    tags and artifacts nor delivers before recording it: the answer is recorded at once, and the review
    shown once, after it. A start that follows no answer (a restart after a crash) still shows it."""
    run_id, ref = start(driver, register, "FLOW-RESUME")
    before = task_runs_by_name(run_id)
    assert before.get("Update tags") == 1 and before.get("Send pending messages") == 1

    driver.answer(run_id, A.NOTIFIED)
    expected = {**before, "Update tags": 2, "Send pending messages": 2}
    after = task_runs_by_name(run_id)
    for _ in range(40):  # the server records task runs from the engine's events, a moment later
        if after.get("Record the answer to notification-1") and after.get("Update tags", 0) >= 2:
            break
        time.sleep(0.5)
        after = task_runs_by_name(run_id)
    assert after.get("Record the answer to notification-1") == 1
    assert (after["Update tags"], after["Send pending messages"]) == (expected["Update tags"],
                                                                    expected["Send pending messages"])
    assert "stage:rapid_review" in read_run(run_id).tags

    # A restart with no answer in (what reconcile does after a crash) shows the review before it waits.
    assert driver.restart(run_id) == "Suspended"
    deadline = time.monotonic() + 20
    while task_runs_by_name(run_id)["Update tags"] < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert task_runs_by_name(run_id)["Update tags"] == 3
    assert register.open_key(ref) == "rapid-review-1"

"""What is recorded beside the steps: the National Panel's response, and actions from day one.

A review's run waits on one human step at a time. Some things do not wait their turn:

- **The National Panel's response** to the rapid review (it agrees, asks for more, or commissions a
  national review) comes about two weeks after the rapid review went to it, whatever step the review
  then waits on; a second response follows one asking for more.
- **Immediate safety actions and obvious improvements** are to be "progressed immediately and not
  delayed for the completion/publication of the LCSPR final report". Each is recorded from the rapid
  review onwards with its owner agency and due date, is timed by an action clock like the action
  plan's (so the sweep reminds and escalates it whatever stage the review is in, a publication
  deferral of a year included), and is completed with evidence.

They are recorded outside the step loop (``lcspr panel-response``, ``lcspr action``), in the same decision
log, under keys no step uses (:data:`SIDE_PREFIXES`), and replayed in order with the answers. None of them
changes the stage, the open step, its key or its attempt, so the run waiting on its step is not disturbed.
The action plan's own actions join the immediate ones in one numbered list (``Review.actions``): the
"action update" step of the plan's monitoring completes either kind, and a review does not close while
any is open. While that step is open its answers are the way to complete an action (a completion beside
it would change which update the run waits on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.clocks import ClockKind
from models.errors import Refused
from models.inputs import Day, Line, Person, Prose, describe_validation_error, ensure_no_identifiers_in
from models.lifecycle.review_clocks import meet, start_clock
from models.lifecycle.state import Action, PanelResponse, Policy, Review, Stage
from models.reminders import agency_role

PanelReply = Literal["agreed", "asked_for_more", "national_review"]
ActionKind = Literal["immediate_safety", "improvement"]

PANEL_RESPONSE = "panel-response"
IMMEDIATE_ACTION = "immediate-action"
ACTION_COMPLETED = "action-completed"
# Decision-log keys that are not answers to steps: "clock-N" (models.lifecycle.clock_adjustment) and these.
SIDE_PREFIXES = ("clock-", f"{PANEL_RESPONSE}-", f"{IMMEDIATE_ACTION}-", f"{ACTION_COMPLETED}-")


def is_step_key(key: str) -> bool:
    """Whether a decision-log key records an answer to a step (not a record beside the steps)."""
    return not key.startswith(SIDE_PREFIXES)


class PanelResponseInput(BaseModel):
    """The National Panel's response to the rapid review."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    response: PanelReply = Field(description="'agreed' with the partners' decision, 'asked_for_more' "
                                 "information, or commissioned a 'national_review'.")
    received_on: Day = Field(description="The date of the Panel's response.")
    by: Person = Field(min_length=2, max_length=80, description="Who records it (name and role).")
    note: Prose = Field(default="", max_length=2000, description="What the Panel said or asked for, briefly.")


class ImmediateActionInput(BaseModel):
    """An immediate safety action or obvious improvement, progressed at once."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ActionKind = Field(description="'immediate_safety' action, or an obvious 'improvement'.")
    action: Prose = Field(min_length=10, max_length=1000, description="What is to be done. No identifying details.")
    owner_agency: Line = Field(min_length=2, max_length=80, description="The agency that owns the action.")
    due_on: Day = Field(description="When it is due.")
    agreed_on: Day = Field(description="The date it was agreed.")
    by: Person = Field(min_length=2, max_length=80, description="Who records it (name and role).")


class ActionCompletionInput(BaseModel):
    """An action completed, with the evidence of it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action_number: int = Field(ge=1, description="The action's number, as `lcspr status` shows it.")
    completed_on: Day = Field(description="The date it was completed.")
    evidence: Prose = Field(min_length=10, max_length=2000, description="The evidence of completion.")
    by: Person = Field(min_length=2, max_length=80, description="Who records it (name and role).")


def read(model: type[BaseModel], payload: Mapping[str, Any], what: str) -> Any:
    """A record read from what a person sent, refused with a reason that names fields, never their text."""
    try:
        return model.model_validate(dict(payload))
    except ValidationError as exc:
        raise Refused(describe_validation_error(exc, what)) from None


def _not_future(on: date, today: date) -> None:
    if on > today:
        raise Refused(f"The date given ({on}) is in the future; today is {today}.")


def _rapid_review_sent_on(review: Review) -> date | None:
    if not review.has_clock(ClockKind.RAPID_REVIEW.value):
        return None
    return review.clock(ClockKind.RAPID_REVIEW.value).met_on


# -- the National Panel's response
def check_panel_response(review: Review, v: PanelResponseInput, today: date) -> None:
    _not_future(v.received_on, today)
    sent = _rapid_review_sent_on(review)
    if sent is None:
        raise Refused(f"Review {review.reference} has no rapid review sent to the National Panel yet: "
                      "record the Panel's response once the rapid review is recorded.")
    if v.received_on < sent:
        raise Refused(f"The response is dated {v.received_on}, before the rapid review went to the Panel ({sent}).")
    ensure_no_identifiers_in(v)


def panel_response(review: Review, v: PanelResponseInput) -> Review:
    return replace(review, panel_responses=(*review.panel_responses,
                                            PanelResponse(v.response, v.received_on, v.note)))


# -- immediate actions
def check_immediate_action(review: Review, v: ImmediateActionInput, today: date) -> None:
    if review.stage is Stage.REFERRED:
        raise Refused(f"Review {review.reference} has not been notified yet: immediate actions are recorded "
                      "from the rapid review onwards.")
    if review.stage is Stage.CLOSED:
        raise Refused(f"Review {review.reference} is closed.")
    _not_future(v.agreed_on, today)
    if v.due_on <= v.agreed_on:
        raise Refused(f"The action's due date ({v.due_on}) must be after the date it is agreed ({v.agreed_on}).")
    agency_role(v.owner_agency)  # refuses a name with no letter or digit
    ensure_no_identifiers_in(v)


def immediate_action(review: Review, v: ImmediateActionInput, policy: Policy) -> Review:
    number = len(review.actions) + 1
    action = Action(number, 0, v.owner_agency, v.action, v.due_on, kind=v.kind, agreed_on=v.agreed_on)
    review = replace(review, actions=(*review.actions, action))
    return start_clock(review, policy, ClockKind.ACTION, v.due_on, f"action-{number}", agency_role(v.owner_agency))


def find_action(review: Review, number: int) -> Action:
    for a in review.actions:
        if a.number == number:
            return a
    raise Refused(f"There is no action {number}; review {review.reference} has {len(review.actions)} action(s).")


def check_action_completion(review: Review, v: ActionCompletionInput, today: date) -> None:
    if review.stage is Stage.ACTION_MONITORING:
        raise Refused(f"Review {review.reference} is monitoring its action plan: record the action's completion "
                      "as the answer to its open step (lcspr decide ... action_update).")
    if review.stage is Stage.CLOSED:
        raise Refused(f"Review {review.reference} is closed.")
    action = find_action(review, v.action_number)
    if action.completed_on is not None:
        raise Refused(f"Action {action.number} was already completed on {action.completed_on}.")
    _not_future(v.completed_on, today)
    if action.agreed_on is not None and v.completed_on < action.agreed_on:
        raise Refused(f"The completion date ({v.completed_on}) is before the action was agreed ({action.agreed_on}).")
    ensure_no_identifiers_in(v)


def complete_action(review: Review, v: ActionCompletionInput) -> Review:
    action = find_action(review, v.action_number)
    done = replace(action, completed_on=v.completed_on, evidence=v.evidence)
    review = replace(review, actions=tuple(done if a is action else a for a in review.actions))
    return meet(review, f"{ClockKind.ACTION.value}:action-{action.number}", v.completed_on)


# -- judged (a new record) and applied (a new record, or a replay)
def judge_side_record(review: Review, prefix: str, payload: Mapping[str, Any], today: date,
                      policy: Policy) -> tuple[str, BaseModel, Review]:
    """Read and check a new record beside the steps; its log key, the record as read and the review after it.
    ``Refused`` (or ``IdentifierFound``) says why it may not be recorded, and nothing changes."""
    if prefix == PANEL_RESPONSE:
        response = read(PanelResponseInput, payload, "The Panel's response")
        check_panel_response(review, response, today)
        return f"{PANEL_RESPONSE}-{len(review.panel_responses) + 1}", response, panel_response(review, response)
    if prefix == IMMEDIATE_ACTION:
        action = read(ImmediateActionInput, payload, "The action")
        check_immediate_action(review, action, today)
        return f"{IMMEDIATE_ACTION}-{len(review.actions) + 1}", action, immediate_action(review, action, policy)
    if prefix == ACTION_COMPLETED:
        completion = read(ActionCompletionInput, payload, "The completion")
        check_action_completion(review, completion, today)
        return f"{ACTION_COMPLETED}-{completion.action_number}", completion, complete_action(review, completion)
    raise ValueError(f"not a record beside the steps: {prefix}")


def apply_side_record(review: Review, key: str, payload: Mapping[str, Any], policy: Policy) -> Review:
    """A recorded record applied again (a replay): not judged again."""
    if key.startswith(f"{PANEL_RESPONSE}-"):
        return panel_response(review, PanelResponseInput.model_validate(dict(payload)))
    if key.startswith(f"{IMMEDIATE_ACTION}-"):
        return immediate_action(review, ImmediateActionInput.model_validate(dict(payload)), policy)
    if key.startswith(f"{ACTION_COMPLETED}-"):
        return complete_action(review, ActionCompletionInput.model_validate(dict(payload)))
    raise ValueError(f"not a record beside the steps: {key}")

"""The review lifecycle: stages, the step each stage waits on, and named transition rules.

A review's state is a pure value (``Review``) rebuilt by replaying its decision log
(``replay``). A new answer goes through ``decide``: it is read into the open step's
input model, checked against the open step, the dates and the rule of that step, and
either refused with a reason (``Refused``; nothing changes) or applied (``Accepted``:
the next review and the answer to store). Checks and effects are separate so that a
replay after a calendar or rule change never re-judges what was already accepted.

How the parts fit (each imports only those above it)::

    state             Stage, Route, Review, OpenStep, Policy: the values
      │
    review_clocks     start, change, meet and stop the clocks a review holds
      │
    targets           TARGET_OF_STEP: the local target of each step no statutory
      │               clock times; start_target, meet_target, target_key
      ├───────────────────────┬──────────────────────┐
    rules                   opening                clock_adjustment
    17 named rules:         open_review,           ClockAdjustment, adjust_clock:
    check + effect, RULES   open_step              pause, resume, extend
      └──────────┬────────────┘                      │
    decision     decide -> Accepted | Refused;       │
                 apply_decision (meets and starts    │
                 targets), refuse                    │
                 └─────────────────┬─────────────────┘
    decision_log                LoggedDecision, replay: referral + log -> Review
                                (side_records: the Panel's response, actions from day one,
                                recorded beside the steps and replayed in the same log)

Everything here is pure: no framework, no I/O and no reading of the clock (``today``
is always passed in).
"""

from __future__ import annotations

from models.inputs import describe_validation_error
from models.lifecycle.clock_adjustment import ClockAdjustment, adjust_clock
from models.lifecycle.decision import (
    Accepted,
    apply_decision,
    check_decision,
    decide,
    parse_input,
    refuse,
)
from models.lifecycle.decision_log import LoggedDecision, replay, replay_steps
from models.lifecycle.opening import open_review, open_step
from models.lifecycle.rules import RULES, Rule
from models.lifecycle.side_records import (
    ACTION_COMPLETED,
    IMMEDIATE_ACTION,
    PANEL_RESPONSE,
    ActionCompletionInput,
    ImmediateActionInput,
    PanelResponseInput,
    apply_side_record,
    is_step_key,
    judge_side_record,
)
from models.lifecycle.state import (
    STEP_OF_STAGE,
    Action,
    AgencyRequest,
    OpenStep,
    PanelResponse,
    Policy,
    Review,
    Route,
    Stage,
)
from models.lifecycle.targets import TARGET_OF_STEP

__all__ = [
    "ACTION_COMPLETED",
    "IMMEDIATE_ACTION",
    "PANEL_RESPONSE",
    "RULES",
    "STEP_OF_STAGE",
    "TARGET_OF_STEP",
    "Accepted",
    "Action",
    "ActionCompletionInput",
    "AgencyRequest",
    "ClockAdjustment",
    "ImmediateActionInput",
    "LoggedDecision",
    "OpenStep",
    "PanelResponse",
    "PanelResponseInput",
    "Policy",
    "Review",
    "Route",
    "Rule",
    "Stage",
    "adjust_clock",
    "apply_decision",
    "apply_side_record",
    "check_decision",
    "decide",
    "describe_validation_error",
    "is_step_key",
    "judge_side_record",
    "open_review",
    "open_step",
    "parse_input",
    "refuse",
    "replay",
    "replay_steps",
]

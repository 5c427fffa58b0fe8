"""The policy layer: one declarative YAML file (roles, purposes, field classes, masking
rules, endpoints, budgets, detectors, responses, exports), validated with errors that name
file:line:column, and compiled once at start into what the gate calls per request.

    policy = load_policy(path)            # or load_default_policy()
    compiled = compile_policy(policy, pseudonym_key)
    purpose = compiled.check_purpose(caller, "GET /v1/persons/{id}")
    view = compiled.view(caller.role, purpose)   # .revealed / .visible / .apply(record, who)
"""

from strongroom.policy.compiled import CompiledPolicy, FieldView, compile_policy
from strongroom.policy.loader import (
    DEFAULT_POLICY_PATH,
    default_policy_text,
    load_default_policy,
    load_policy,
    load_policy_text,
)
from strongroom.policy.model import (
    BudgetSpec,
    DetectorSpec,
    EndpointSpec,
    Policy,
    PurposeSpec,
    ResponseSpec,
    RoleSpec,
)
from strongroom.policy.problems import PolicyError, Problem

__all__ = [
    "DEFAULT_POLICY_PATH",
    "BudgetSpec",
    "CompiledPolicy",
    "DetectorSpec",
    "EndpointSpec",
    "FieldView",
    "Policy",
    "PolicyError",
    "Problem",
    "PurposeSpec",
    "ResponseSpec",
    "RoleSpec",
    "compile_policy",
    "default_policy_text",
    "load_default_policy",
    "load_policy",
    "load_policy_text",
]

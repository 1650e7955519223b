"""Signed links to a task: crowd links per coder group, personal links, the admin link.

Crowd platforms (Prolific, MTurk, Qualtrics) send every participant to one study URL and
fill in the participant's id as a query parameter. The link carries a token signed with
the task's secret (itsdangerous) that names the task, the coder group and the name of
that parameter, so a visitor can neither pick another group nor reach the task without a
link. A personal link names one coder instead (``--coders-file``, for a lab). The admin
token opens the researcher's dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from semclust.validation.annotate.tasks import AnnotationError, Task, check_attributes, check_coder

#: What each platform puts where the participant id goes. An MTurk survey link cannot
#: carry the Worker ID: the app asks the worker to type it.
PLATFORMS = {
    "prolific": ("PROLIFIC_PID", "{{%PROLIFIC_PID%}}"),
    "qualtrics": ("PID", "${e://Field/PID}"),
    "mturk": ("workerId", None),
}
_SALTS = {"join": "semclust.annotate.join", "admin": "semclust.annotate.admin"}


@dataclass(frozen=True)
class Invitation:
    """What a verified link grants: one coder by name, or any participant of a group."""

    task: str
    attributes: dict
    coder: str | None = None
    participant_param: str | None = None


def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALTS[purpose])


def group_token(secret: str, task: Task, attributes: dict, participant_param: str) -> str:
    """A crowd link's token: the task, the group's attributes, the participant-id parameter."""
    if not participant_param.isidentifier():
        raise AnnotationError(f"participant id parameter {participant_param!r} is not a name")
    attributes = check_attributes(task, attributes)
    return _serializer(secret, "join").dumps(
        {"t": task.name, "a": attributes, "p": participant_param}
    )


def coder_token(secret: str, task: Task, coder: str, attributes: dict) -> str:
    """A personal link's token: one named coder with their attributes."""
    check_coder(coder)
    attributes = check_attributes(task, attributes)
    return _serializer(secret, "join").dumps({"t": task.name, "a": attributes, "c": coder})


def read_invitation(secret: str, task: Task, token: str) -> Invitation:
    """The invitation a token carries, if it was signed for this task.

    Raises
    ------
    AnnotationError
        A token that was altered, signed with another secret, or made for another task.
    """
    try:
        data = _serializer(secret, "join").loads(token)
    except BadSignature:
        raise AnnotationError("this link is not valid: ask for the study's link again") from None
    if not isinstance(data, dict) or data.get("t") != task.name:
        raise AnnotationError("this link belongs to another study")
    return Invitation(task.name, dict(data.get("a") or {}), data.get("c"), data.get("p"))


def admin_token(secret: str, task: Task) -> str:
    return _serializer(secret, "admin").dumps({"t": task.name})


def is_admin(secret: str, task: Task, token: str) -> bool:
    try:
        return _serializer(secret, "admin").loads(token) == {"t": task.name}
    except BadSignature:
        return False


def crowd_url(base: str, token: str, participant_param: str, platform: str | None) -> str:
    """The study URL to give the platform: the participant id's placeholder filled in."""
    url = f"{base.rstrip('/')}/join/{token}"
    placeholder = PLATFORMS[platform][1] if platform in PLATFORMS else None
    if placeholder is None:
        return url  # the participant types the id on the first page (an MTurk survey link)
    return f"{url}?{quote(participant_param)}={placeholder}"


def personal_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/join/{token}"

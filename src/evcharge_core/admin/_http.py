"""HTTP plumbing of the admin API: problem details, the error mapping, bodies and queries.

Every error answer is an RFC 9457 problem (``application/problem+json``). Its ``type`` is
``https://evcharge-core.dev/problems/{slug}``, a stable identifier a client can switch on
(RFC 9457 does not require it to resolve); ``about:blank`` is used only for HTTP errors that
Starlette raises and this module has no slug for. :data:`ERROR_PROBLEMS` maps the library's
errors to problems, most specific first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Collection, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final, NoReturn

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import (
    ActivationMismatch,
    ActivationThrottled,
    AlreadyActivated,
    CommandTimeout,
    Conflict,
    ImportRejected,
    InvalidInput,
    Issue,
    NotFound,
    StationCallError,
    StationNotConnected,
    StationProtocolError,
    StorageError,
)

__all__ = [
    "ERROR_PROBLEMS",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "ErrorProblem",
    "ProblemError",
    "check_bearer",
    "http_problem",
    "issue_to_json",
    "json_response",
    "problem_for_error",
    "query_values",
    "read_body",
    "read_csv",
    "read_json",
    "read_json_object",
    "split_query",
    "token_digest",
]

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_BASE: Final = "https://evcharge-core.dev/problems/"


def issue_to_json(issue: Issue) -> dict[str, Any]:
    """An :class:`~evcharge_core.errors.Issue` as the API shows it, with every location key
    (``null`` where it does not apply) and ``detail``, the one-line rendering."""
    return {
        "message": issue.message,
        "line": issue.line,
        "column": issue.column,
        "field": issue.field,
        "detail": str(issue),
    }


class ProblemError(Exception):
    """An HTTP problem: raise it from a handler and the API answers with it.

    ``slug`` names the problem type (``None``: ``about:blank``); ``errors`` becomes the
    ``errors`` member; ``extra`` adds other members (``error_count``, ``line``...).
    """

    def __init__(
        self,
        status: int,
        slug: str | None,
        title: str,
        detail: str,
        *,
        errors: Sequence[Issue] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = None if errors is None else tuple(errors)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The problem object."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug if self.slug else "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = [issue_to_json(i) for i in self.errors]
        body.update(self.extra)
        return body

    def response(self) -> Response:
        """The problem as an ``application/problem+json`` response."""
        return JSONResponse(
            self.body(),
            status_code=self.status,
            headers=self.headers,
            media_type=PROBLEM_MEDIA_TYPE,
        )


def http_problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> NoReturn:
    """Raise a problem for a plain HTTP error (the title is the status phrase)."""
    slugs = {
        400: "malformed-body",
        401: "unauthorized",
        404: "not-found",
        405: "method-not-allowed",
        413: "payload-too-large",
        415: "unsupported-media-type",
    }
    try:
        title = HTTPStatus(status).phrase
    except ValueError:  # a status code Python does not name
        title = "Error"
    raise ProblemError(status, slugs.get(status), title, detail, headers=headers)


@attrs.frozen
class ErrorProblem:
    """How an error of the library is answered: status, problem type slug and title."""

    error: type[BaseException]
    status: int
    slug: str
    title: str


ERROR_PROBLEMS: Final[tuple[ErrorProblem, ...]] = (
    ErrorProblem(ImportRejected, 422, "import-rejected", "Import rejected"),
    ErrorProblem(InvalidInput, 422, "invalid-input", "Invalid input"),
    ErrorProblem(ActivationMismatch, 422, "activation-mismatch", "Activation mismatch"),
    ErrorProblem(NotFound, 404, "not-found", "Not found"),
    ErrorProblem(AlreadyActivated, 409, "already-activated", "Already activated"),
    ErrorProblem(StationNotConnected, 409, "not-connected", "Not connected"),
    ErrorProblem(Conflict, 409, "conflict", "Conflict"),
    ErrorProblem(CommandTimeout, 504, "station-timeout", "Station did not answer"),
    ErrorProblem(StationProtocolError, 502, "station-protocol-error", "Station broke the protocol"),
    ErrorProblem(StationCallError, 502, "station-call-error", "Station answered with an error"),
    ErrorProblem(ActivationThrottled, 429, "activation-throttled", "Too many attempts"),
    ErrorProblem(StorageError, 503, "storage-unavailable", "Storage unavailable"),
)
"""The error mapping, most specific first: the first entry whose ``error`` the exception is
an instance of answers it. Errors not listed are bugs: a logged 500."""


def problem_for_error(error: BaseException) -> ProblemError | None:
    """The problem answering ``error``, or ``None`` if :data:`ERROR_PROBLEMS` has none."""
    for entry in ERROR_PROBLEMS:
        if isinstance(error, entry.error):
            break
    else:
        return None
    detail = str(error)
    errors: Sequence[Issue] | None = None
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, ImportRejected):
        errors = error.issues
        extra["error_count"] = error.error_count
        extra["warnings"] = [issue_to_json(w) for w in error.warnings]
        shown = "" if error.error_count <= len(error.issues) else f", the first {len(errors)} shown"
        detail = f"{error.error_count} error(s){shown}; nothing was imported"
        if error.error_count == 1:
            detail = f"{error.issues[0]}; nothing was imported"
    elif isinstance(error, InvalidInput):
        errors = error.issues
    elif isinstance(error, StationCallError):
        extra["code"] = error.code
        extra["description"] = error.description
    elif isinstance(error, ActivationThrottled):
        seconds = max(1, math.ceil(error.retry_after_s))
        headers["Retry-After"] = str(seconds)
        extra["retry_after_s"] = error.retry_after_s
    return ProblemError(
        entry.status, entry.slug, entry.title, detail, errors=errors, extra=extra, headers=headers
    )


# --- authentication --------------------------------------------------------------------------


def token_digest(token: str) -> bytes:
    """What :func:`check_bearer` compares: a digest, so that the comparison takes the same
    time whatever the length of the token presented."""
    return hashlib.sha256(token.encode()).digest()


def check_bearer(request: Request, expected_digest: bytes) -> None:
    """Raise a 401 problem unless the request carries ``Authorization: Bearer TOKEN`` with
    the right token (compared in constant time)."""
    header = request.headers.get("authorization")
    if header is None:
        http_problem(
            401,
            "this route needs an Authorization: Bearer header with the admin token",
            {"WWW-Authenticate": 'Bearer realm="evcharge_core"'},
        )
    scheme, _, credentials = header.partition(" ")
    given = token_digest(credentials.strip())
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, expected_digest):
        http_problem(
            401,
            "the admin token is wrong",
            {"WWW-Authenticate": 'Bearer realm="evcharge_core", error="invalid_token"'},
        )


# --- request bodies --------------------------------------------------------------------------


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; a 413 problem if it is longer than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        http_problem(413, f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            http_problem(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not allowed in JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"the key {key!r} is given more than once")
        obj[key] = value
    return obj


async def read_json(request: Request, limit: int) -> object:
    """The request body decoded as JSON (``application/json`` or ``application/*+json``).

    A 415 problem for another content type, 413 for a body over ``limit`` bytes, 400 for a
    body that is not UTF-8 or not JSON (located by ``line`` and ``column``). ``NaN``,
    ``Infinity`` and duplicate keys are refused too.
    """
    media_type = _media_type(request)
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        http_problem(
            415, f"send the body as application/json, not {media_type or 'no content type'}"
        )
    data = await read_body(request, limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        http_problem(400, f"the body is not UTF-8 (byte {error.start + 1})")
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        what = error.msg[:1].lower() + error.msg[1:]
        raise ProblemError(
            400,
            "malformed-body",
            HTTPStatus.BAD_REQUEST.phrase,
            f"invalid JSON at line {error.lineno}, column {error.colno}: {what}",
            extra={"line": error.lineno, "column": error.colno},
        ) from None
    except (ValueError, RecursionError) as error:
        http_problem(400, f"invalid JSON: {error}")


def _kind(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """:func:`read_json`, then a 422 problem unless the body is a JSON object."""
    body = await read_json(request, limit)
    if not isinstance(body, dict):
        raise InvalidInput([Issue(f"the body must be a JSON object, not {_kind(body)}")])
    return body


async def read_csv(request: Request, limit: int) -> bytes:
    """The request body, which must be ``text/csv`` (415 otherwise; 413 over ``limit``)."""
    media_type = _media_type(request)
    if media_type != "text/csv":
        http_problem(415, f"send the file as text/csv, not {media_type or 'no content type'}")
    return await read_body(request, limit)


# --- queries and responses -------------------------------------------------------------------


def split_query(request: Request, allowed: Collection[str]) -> tuple[dict[str, str], list[Issue]]:
    """The query parameters among ``allowed`` (each once), and an issue for each parameter
    not allowed or repeated."""
    issues: list[Issue] = []
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            issues.append(Issue("unknown query parameter", field=name))
        elif name in values:
            issues.append(Issue("given more than once", field=name))
        else:
            values[name] = value
    return values, _unique(issues)


def query_values(request: Request, allowed: Collection[str]) -> dict[str, str]:
    """The query parameters, each at most once and all among ``allowed``; otherwise a 422
    problem listing every offending parameter."""
    values, issues = split_query(request, allowed)
    if issues:
        raise InvalidInput(issues)
    return values


def _unique(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


def json_response(
    content: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response (UTF-8, compact)."""
    return JSONResponse(content, status_code=status, headers=dict(headers or {}))

"""Routes that describe themselves: `@endpoint(...)` registers a Flask view and keeps, on the view,
what the OpenAPI document says about it — its request and response models, the errors it raises
(their status and code come from the exception classes) and examples. qa.http.openapi reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint
from pydantic import BaseModel

from ..errors import QAError

SPEC_ATTRIBUTE = "__openapi__"


@dataclass(frozen=True, slots=True)
class Param:
    description: str
    example: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    summary: str
    tag: str
    response: type[BaseModel] | None = None  # None: not a JSON body (see media)
    status: int = 200
    media: str = "application/json"
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    errors: tuple[type[QAError], ...] = ()
    description: str = ""
    params: dict[str, Param] = field(default_factory=dict)
    admin: bool = False  # needs the admin bearer token
    curl: str = ""  # the example call; {base} is the server's address
    headers: dict[str, str] = field(default_factory=dict)  # response headers, name → description
    responses: dict[int, tuple[type[BaseModel], str]] = field(default_factory=dict)  # other bodies it answers with


def endpoint(blueprint: Blueprint, method: str, rule: str, spec: Endpoint) -> Callable:
    """`@endpoint(bp, "POST", "/api/ask", Endpoint(...))`: the route, and its description."""

    def register(view: Callable) -> Callable:
        setattr(view, SPEC_ATTRIBUTE, spec)
        blueprint.add_url_rule(rule, view_func=view, methods=[method])
        return view

    return register


def spec_of(view: Any) -> Endpoint | None:
    return getattr(view, SPEC_ATTRIBUTE, None)

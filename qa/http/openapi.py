"""The OpenAPI 3.1 document, generated from the app's own routes: every view registered with
`@endpoint` (qa.http.routing) gives its path, parameters, request and response models, the errors
it raises and its examples (qa.http.examples). Nothing here lists the routes again."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic.json_schema import models_json_schema

from ..errors import Internal, QAError
from . import examples
from .models import ErrorResponse
from .routing import Endpoint, spec_of

ADMIN_SCHEME = "adminToken"
_CONVERTER_RE = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
_STATUS_WORDS = {200: "OK", 201: "已保存", 202: "已接收，任务排队中"}


def openapi_document(app: Flask, max_question_chars: int) -> dict[str, Any]:
    operations = [
        (rule, method, spec)
        for rule in app.url_map.iter_rules()
        if (spec := spec_of(app.view_functions[rule.endpoint])) is not None
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    refs, schemas = _component_schemas([spec for _, _, spec in operations])
    schemas["AskRequest"]["properties"]["question"]["maxLength"] = max_question_chars  # a setting
    schemas["HistoryTurn"]["properties"]["question"]["maxLength"] = max_question_chars
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, spec in operations:
        paths.setdefault(_CONVERTER_RE.sub(r"{\1}", rule.rule), {})[method.lower()] = _operation(spec, refs, rule.endpoint.split(".")[-1])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "科技情报参考 问答 API",
            "version": "1.1.0",
            "description": examples.API_DESCRIPTION,
        },
        "servers": [{"url": "/", "description": "本服务器"}],
        "tags": [{"name": name, "description": text} for name, text in examples.TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {ADMIN_SCHEME: {
                "type": "http", "scheme": "bearer",
                "description": "服务器的 QA_ADMIN_TOKEN。没有设置它时上传相关的接口一律返回 404。",
            }},
        },
    }  # fmt: skip


def _component_schemas(specs: list[Endpoint]) -> tuple[dict[str, dict], dict[str, Any]]:
    """JSON schemas of every model the endpoints name, and a $ref to each by model name."""
    requests = {spec.body for spec in specs if spec.body}
    responses = {spec.response for spec in specs if spec.response} | {ErrorResponse}
    responses |= {model for spec in specs for model, _ in spec.responses.values()}
    models = [(model, "validation") for model in sorted(requests, key=lambda m: m.__name__)]
    models += [(model, "serialization") for model in sorted(responses, key=lambda m: m.__name__)]
    keys, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    return {model.__name__: keys[(model, mode)] for model, mode in models}, definitions["$defs"]


def _json(schema: dict, example: Any | None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return media


def _operation(spec: Endpoint, refs: dict[str, dict], name: str) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": spec.summary, "tags": [spec.tag], "operationId": name}
    if spec.description:
        operation["description"] = spec.description
    if spec.params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
             "description": param.description, "example": param.example}
            for name, param in spec.params.items()
        ]  # fmt: skip
    if spec.body is not None:
        media = _json(refs[spec.body.__name__], examples.request_example(spec.body))
        if spec.body_media == "multipart/form-data":
            media["encoding"] = {"file": {"contentType": "application/octet-stream"}}
            media.pop("example", None)
        operation["requestBody"] = {"required": True, "content": {spec.body_media: media}}
    operation["responses"] = _responses(spec, refs)
    if spec.admin:
        operation["security"] = [{ADMIN_SCHEME: []}]
    if spec.curl:
        operation["x-codeSamples"] = [{"lang": "Shell", "label": "curl", "source": spec.curl.replace("{base}", examples.BASE_URL)}]
    return operation


def _responses(spec: Endpoint, refs: dict[str, dict]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": _STATUS_WORDS.get(spec.status, "OK")}
    if spec.response is not None:
        ok["content"] = {spec.media: _json(refs[spec.response.__name__], examples.response_example(spec.response))}
    else:
        raw = {"application/json": {"type": "object"}, "text/html": {"type": "string"}}
        ok["content"] = {spec.media: {"schema": raw.get(spec.media, {"type": "string", "format": "binary"})}}
    if spec.headers:
        ok["headers"] = {name: {"schema": {"type": "string"}, "description": text} for name, text in spec.headers.items()}
    responses: dict[str, Any] = {str(spec.status): ok}
    for status, (model, description) in spec.responses.items():
        content = {"application/json": _json(refs[model.__name__], examples.response_example(model))}
        responses[str(status)] = {"description": description, "content": content}
    by_status: dict[int, list[type[QAError]]] = {}
    for error in (*spec.errors, Internal):
        by_status.setdefault(error.http_status, []).append(error)
    for status, errors in sorted(by_status.items()):
        if str(status) in responses:
            continue
        codes = "、".join(dict.fromkeys(error.code for error in errors))
        example = {"error": {"code": errors[0].code, "message": errors[0].example}}
        response = {"description": f"{examples.STATUS_MEANINGS.get(status, '出错')}（{codes}）",
                    "content": {"application/json": _json(refs["ErrorResponse"], example)}}
        headers = {name for error in errors for name in getattr(error, "headers", {})}
        headers |= {"Retry-After"} if status == 429 else set()
        if headers:
            response["headers"] = {name: {"schema": {"type": "string"}} for name in sorted(headers)}
        responses[str(status)] = response
    return responses

"""The emulator's HTTP API (FastAPI): authentication, test-results, entities, and the control endpoint."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from lxml import etree
from starlette.concurrency import run_in_threadpool

from evidencehub.emulators.octane.config import FaultConfig
from evidencehub.emulators.octane.faults import FaultMiddleware, error_body
from evidencehub.emulators.octane.query import QuerySyntaxError, parse_query
from evidencehub.emulators.octane.state import EmulatorState, Session, payload_digest
from evidencehub.emulators.octane.store import COLLECTIONS, Collection, EntityError, multi_reference, project
from evidencehub.publish.targets.octane import xsd

COOKIE = "LWSSO_COOKIE_KEY"
API = "/api/shared_spaces/{space_id}/workspaces/{workspace_id}"


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, description: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.headers = headers or {}


def create_app(state: EmulatorState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(title="ALM Octane emulator (evidencehub)", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(FaultMiddleware, state=state)
    app.state.emulator = state

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(error.code, error.description), status_code=error.status, headers=error.headers
        )

    @app.exception_handler(EntityError)
    async def entity_error(_request: Request, error: EntityError) -> JSONResponse:
        return JSONResponse(
            error_body(error.code, error.description, business_error=True), status_code=error.status
        )

    _authentication_routes(app, state)
    _test_result_routes(app, state)
    _entity_routes(app, state)
    _entity_write_routes(app, state)
    _control_routes(app, state)
    return app


# ---------------------------------------------------------------- helpers


def _session(request: Request, state: EmulatorState, space_id: int, workspace_id: int | None) -> Session:
    with state.lock:
        state.counters["api_requests"] += 1
    session, reason = state.check_session(request.cookies.get(COOKIE))
    if session is None:
        with state.lock:
            state.counters["unauthorized"] += 1
        raise ApiError(401, "platform.not_authorized", f"Authentication failed: {reason}")
    if space_id != state.config.space_id:
        raise ApiError(404, "platform.entity_not_found", "type shared_space does not exist")
    if workspace_id is not None and workspace_id != state.config.workspace_id:
        raise ApiError(404, "platform.entity_not_found", "type workspace does not exist")
    return session


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise ApiError(
            415, "platform.unsupported_media_type", "send JSON with Content-Type: application/json"
        )
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "platform.illegal_json", f"the body is not valid JSON: {exc}") from exc


def _data_items(body: Any) -> list[Any]:
    """The ``data`` list of a create/update body (SPEC §4.2)."""
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ApiError(400, "platform.illegal_json", 'send {"data": [ {…}, … ]}')
    return items


def _collection(name: str) -> Collection:
    collection = COLLECTIONS.get(name)
    if collection is None:
        raise ApiError(404, "platform.unknown_resource", f"resource '{name}' does not exist")
    return collection


def _strip_quotes(query: str) -> str:
    query = query.strip()
    if len(query) >= 2 and query[0] == query[-1] == '"':
        return query[1:-1]
    return query


# ---------------------------------------------------------------- authentication


def _authentication_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.post("/authentication/sign_in")
    async def sign_in(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ApiError(
                400, "platform.illegal_json", "send {client_id, client_secret} or {user, password}"
            )
        user = body.get("client_id", body.get("user"))
        secret = body.get("client_secret", body.get("password"))
        if not isinstance(user, str) or not isinstance(secret, str):
            raise ApiError(401, "platform.not_authorized", "Authentication failed: credentials are missing")
        session = state.sign_in(user, secret)
        if session is None:
            raise ApiError(401, "platform.not_authorized", "Authentication failed: invalid credentials")
        response = Response(status_code=200)
        max_age = int(state.config.session_ttl_seconds)
        response.set_cookie(COOKIE, session.token, httponly=True, path="/")
        response.set_cookie("OCTANE_USER", session.user, httponly=True, path="/", max_age=max_age)
        return response

    @app.post("/authentication/sign_out")
    async def sign_out(request: Request) -> Response:
        state.sign_out(request.cookies.get(COOKIE))
        response = Response(status_code=200)
        response.delete_cookie(COOKIE, path="/")
        return response


# ---------------------------------------------------------------- test results


def _decoded_payload(request: Request, raw: bytes, limit: int) -> bytes:
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in {"gzip", "application/gzip", "x-gzip"}:
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            payload = decompressor.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise ApiError(
                400, "platform.illegal_content", f"the gzip body cannot be decompressed: {exc}"
            ) from exc
        if len(payload) > limit or not decompressor.eof:
            raise ApiError(413, "platform.payload_too_large", f"the payload is larger than {limit} bytes")
        return payload
    if encoding not in {"", "identity"}:
        raise ApiError(
            415, "platform.unsupported_media_type", f"Content-Encoding '{encoding}' is not supported"
        )
    if len(raw) > limit:
        raise ApiError(413, "platform.payload_too_large", f"the payload is larger than {limit} bytes")
    return raw


def _queue_full(state: EmulatorState) -> ApiError:
    config = state.config
    description = f"Queue limit exceeded: {config.queue_limit} test-result tasks are queued"
    headers: dict[str, str] = {}
    if config.queue_full_mode == "429":
        headers["Retry-After"] = (
            f"{config.queue_full_retry_after if config.queue_full_retry_after is not None else 10:g}"
        )
        return ApiError(429, config.queue_full_error_code, description, headers)
    if config.queue_full_retry_after is not None:
        headers["Retry-After"] = f"{config.queue_full_retry_after:g}"
    return ApiError(503, config.queue_full_error_code, description, headers)


def _accept_upload(state: EmulatorState, request: Request, raw: bytes) -> JSONResponse:
    """POST …/test-results: de-duplicate, check the queue, validate, enqueue (in a worker thread)."""
    _count(state, "posts_total")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/xml":
        _count(state, "posts_rejected_other")
        raise ApiError(
            415,
            "platform.unsupported_media_type",
            f"Content-Type must be application/xml, not '{content_type}'",
        )
    skip_errors = request.query_params.get("skip-errors", "false").lower() == "true"
    payload = _decoded_payload(request, raw, state.config.max_payload_mb * 2**20)
    digest = payload_digest(payload)
    duplicate = state.find_duplicate(digest)
    if duplicate is not None:
        _count(state, "posts_duplicate_payload")
        with state.lock:
            return JSONResponse(duplicate.as_json(), status_code=202)
    with state.lock:
        if state.queued_count() >= state.config.queue_limit:
            state.counters["posts_rejected_queue_full"] += 1
            raise _queue_full(state)
    try:
        root = xsd.parse(payload)
    except etree.XMLSyntaxError as exc:
        _count(state, "posts_rejected_invalid")
        raise ApiError(
            400, "platform.test_results_xml_invalid", f"The payload is not well-formed XML: {exc}"
        ) from exc
    problems = xsd.schema_errors(root)
    if problems:
        _count(state, "posts_rejected_invalid")
        raise ApiError(
            400,
            "platform.test_results_xml_invalid",
            "The payload does not conform to the test results XSD: " + "; ".join(problems),
        )
    task = state.enqueue(digest, root, skip_errors=skip_errors)
    with state.lock:
        return JSONResponse(task.as_json(), status_code=202)


def _test_result_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get(API + "/test-results/xsd")
    def get_xsd(request: Request, space_id: int, workspace_id: int) -> Response:
        _session(request, state, space_id, workspace_id)
        return Response(xsd.schema_bytes(), media_type="application/xml")

    @app.post(API + "/test-results")
    async def post_test_results(request: Request, space_id: int, workspace_id: int) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        raw = await request.body()
        # Decompressing, parsing and validating take milliseconds per payload: off the event loop.
        return await run_in_threadpool(_accept_upload, state, request, raw)

    @app.get(API + "/test-results/{task_id}")
    def get_task(request: Request, space_id: int, workspace_id: int, task_id: str) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        task = state.task(int(task_id)) if task_id.isdigit() else None
        if task is None:
            raise ApiError(404, "platform.entity_not_found", f"test result task {task_id} does not exist")
        with state.lock:
            return JSONResponse(task.as_json())


def _count(state: EmulatorState, name: str) -> None:
    with state.lock:
        state.counters[name] += 1


# ---------------------------------------------------------------- entities


def _page_params(request: Request, state: EmulatorState) -> tuple[int, int]:
    params = request.query_params
    try:
        limit = int(params.get("limit", state.config.default_page_size))
        offset = int(params.get("offset", 0))
    except ValueError as exc:
        raise ApiError(400, "platform.illegal_parameter", "limit and offset must be integers") from exc
    if limit < 1 or limit > state.config.max_page_size:
        raise ApiError(
            400,
            "platform.illegal_parameter",
            f"limit must be between 1 and the maximum page size {state.config.max_page_size}",
        )
    if offset < 0:
        raise ApiError(400, "platform.illegal_parameter", "offset must not be negative")
    return limit, offset


def _order_by(value: str | None) -> list[tuple[str, bool]]:
    if not value:
        return []
    cleaned = value.strip().strip("{}")
    return [
        (part.strip().lstrip("-"), part.strip().startswith("-"))
        for part in cleaned.split(",")
        if part.strip()
    ]


def _fields(value: str | None) -> list[str] | None:
    if not value:
        return None
    names: list[str] = []
    depth = 0
    current = ""
    for char in value:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "," and depth == 0:
            names.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        names.append(current.strip())
    return names


def _envelope(entities: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    return {
        "total_count": len(entities) if total is None else total,
        "data": entities,
        "exceeds_total_count": False,
    }


def _entity_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get("/api/shared_spaces/{space_id}/workspaces")
    def list_workspaces(request: Request, space_id: int) -> JSONResponse:
        _session(request, state, space_id, None)
        workspace = {"type": "workspace", "id": str(state.config.workspace_id), "name": "default_workspace"}
        return JSONResponse(_envelope([workspace]))

    @app.get(API + "/{collection}")
    def list_entities(request: Request, space_id: int, workspace_id: int, collection: str) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        spec = _collection(collection)
        limit, offset = _page_params(request, state)
        query_text = request.query_params.get("query")
        try:
            condition = parse_query(_strip_quotes(query_text)) if query_text else None
        except QuerySyntaxError as exc:
            raise ApiError(
                400, "platform.illegal_query", f"query {query_text!r} is not valid: {exc}"
            ) from exc
        fields = _fields(request.query_params.get("fields"))
        with state.lock:
            found = state.store.select(
                spec, condition, order_by=_order_by(request.query_params.get("order_by"))
            )
            page = [project(entity, fields) for entity in found[offset : offset + limit]]
        return JSONResponse(_envelope(page, len(found)))

    @app.get(API + "/{collection}/{entity_id}")
    def get_entity(
        request: Request, space_id: int, workspace_id: int, collection: str, entity_id: str
    ) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        spec = _collection(collection)
        with state.lock:
            entity = state.store.in_collection(spec, entity_id)
            if entity is None:
                raise ApiError(
                    404, "platform.entity_not_found", f"{spec.entity_type} with id {entity_id} does not exist"
                )
            return JSONResponse(project(entity, _fields(request.query_params.get("fields"))))


def _entity_write_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.post(API + "/{collection}")
    async def create_entities(
        request: Request, space_id: int, workspace_id: int, collection: str
    ) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        spec = _collection(collection)
        items = _data_items(await _json_body(request))
        with state.lock:
            created = [dict(state.store.create(spec, item)) for item in items]
        return JSONResponse(_envelope(created), status_code=201)

    @app.put(API + "/{collection}/{entity_id}")
    async def update_entity(
        request: Request, space_id: int, workspace_id: int, collection: str, entity_id: str
    ) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        spec = _collection(collection)
        body = await _json_body(request)
        with state.lock:
            return JSONResponse(dict(state.store.update(spec, entity_id, body)))

    @app.put(API + "/{collection}")
    async def update_entities(
        request: Request, space_id: int, workspace_id: int, collection: str
    ) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        spec = _collection(collection)
        items = _data_items(await _json_body(request))
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with state.lock:
            for index, item in enumerate(items):
                try:
                    entity_id = str(item.get("id")) if isinstance(item, dict) else ""
                    fields = {key: value for key, value in item.items() if key != "id"}
                    updated.append(dict(state.store.update(spec, entity_id, fields)))
                except (EntityError, AttributeError) as exc:
                    code = exc.code if isinstance(exc, EntityError) else "platform.illegal_field_value"
                    errors.append({**error_body(code, str(exc)), "index": index, "entity_index": index})
        if errors:
            return JSONResponse({**_envelope(updated), "errors": errors}, status_code=409)
        return JSONResponse(_envelope(updated))

    @app.delete(API + "/{collection}/{entity_id}")
    def delete_entity(
        request: Request, space_id: int, workspace_id: int, collection: str, entity_id: str
    ) -> JSONResponse:
        _session(request, state, space_id, workspace_id)
        spec = _collection(collection)
        with state.lock:
            state.store.delete(spec, entity_id)
        return JSONResponse(_envelope([]))


# ---------------------------------------------------------------- control


def _control_routes(app: FastAPI, state: EmulatorState) -> None:
    @app.get("/__emulator__/counters")
    def counters() -> dict[str, Any]:
        return state.snapshot()

    @app.post("/__emulator__/reset")
    def reset() -> dict[str, Any]:
        state.reset()
        return state.snapshot()

    @app.get("/__emulator__/config")
    def get_config() -> dict[str, Any]:
        config = state.config.model_dump()
        config["api_keys"] = sorted(config["api_keys"])  # ids only: secrets never leave the emulator
        return config

    @app.patch("/__emulator__/config")
    async def patch_config(request: Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict):
            raise ApiError(400, "emulator.bad_request", "send a JSON object of settings to change")
        faults = body.pop("faults", None)
        state.update_config(body)
        if faults is not None:
            state.set_faults(FaultConfig.model_validate({**state.config.faults.model_dump(), **faults}))
        return {"ok": True}

    @app.post("/__emulator__/entities/{collection}")
    async def seed(request: Request, collection: str) -> JSONResponse:
        """Insert entities as they are (no validation): for states the API refuses, e.g. two root modules."""
        spec = _collection(collection)
        items = _data_items(await request.json())
        with state.lock:
            created = []
            for item in items:
                entity = {"type": spec.subtype or spec.entity_type, **item}
                if spec.subtype:
                    entity.setdefault("subtype", spec.subtype)
                if spec.kind == "tests":
                    entity.setdefault("covered_content", multi_reference([]))
                created.append(dict(state.store.insert(spec.kind, entity)))
        return JSONResponse(_envelope(created), status_code=201)

    @app.get("/__emulator__/runs")
    def runs() -> list[dict[str, Any]]:
        """Every stored run with its test identity (for assertions)."""
        with state.lock:
            result = []
            for run in state.store.kinds["runs"].values():
                test = state.store.get(run["test"]["id"]) or {}
                result.append(
                    {
                        "id": run["id"],
                        "name": run["name"],
                        "status": run["native_status"]["id"].rsplit(".", 1)[-1],
                        "component": test.get("component"),
                        "package": test.get("package"),
                        "class_name": test.get("class_name"),
                        "test_name": test.get("name"),
                        "build": run.get("build", {}) and run["build"]["id"],
                        "writes": 1 + len(run.get("previous_runs", [])),
                    }
                )
            return result

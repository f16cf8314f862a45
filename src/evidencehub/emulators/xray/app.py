"""The Xray emulator's HTTP API (FastAPI): import endpoints of one flavour, auth, and the control endpoint.

Server/DC: ``/rest/raven/{1.0|2.0}/import/execution`` and ``…/junit`` (Basic
or a personal access token). Cloud: ``/api/{v1|v2}/authenticate`` then the
same import paths under ``/api/{v1|v2}`` with the token. The other flavour's
paths answer 404, as a wrong base URL would. Errors use Xray's
``{"error": "…"}`` body, except an injected 502: a proxy's HTML page, as in
front of a real Jira. Faults apply to imports only. ``/__emulator__/…``
reads back what was imported, seeds issues, and changes configuration and
faults.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from lxml import etree

from evidencehub.emulators.faults import PROXY_502_BODY, dropping
from evidencehub.emulators.xray.config import XrayFaults
from evidencehub.emulators.xray.state import Execution, Issue, XrayApiError, XrayEmulatorState

SERVER_PREFIXES = ("/rest/raven/1.0", "/rest/raven/2.0")
CLOUD_PREFIXES = ("/api/v1", "/api/v2")
JUNIT_STATUS = {"server": ("PASS", "FAIL", "TODO"), "cloud": ("PASSED", "FAILED", "TODO")}


def _issue(issue: Issue, base: str) -> dict[str, str]:
    return {"id": issue.id, "key": issue.key, "self": f"{base}/rest/api/2/issue/{issue.id}"}


def _answer(state: XrayEmulatorState, execution: Execution, tests: list[Issue], base: str) -> dict[str, Any]:
    if state.config.flavour == "cloud":
        return _issue(execution.issue, base)
    return {
        "testExecIssue": _issue(execution.issue, base),
        "testIssues": {"success": [_issue(issue, base) for issue in tests]},
    }


def junit_document(xml: bytes, params: dict[str, str], flavour: str) -> dict[str, Any]:
    """A JUnit report as the Xray JSON document Xray's own JUnit import would make of it."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise XrayApiError(400, f"Error parsing the JUnit report: {exc}") from exc
    passed, failed, todo = JUNIT_STATUS[flavour]
    project = params.get("projectKey")
    tests = []
    for case in root.iter("testcase"):
        properties = {
            str(item.get("name")): str(item.get("value"))
            for item in case.iter("property")
            if item.get("name")
        }
        status = passed
        if case.find("failure") is not None or case.find("error") is not None:
            status = failed
        elif case.find("skipped") is not None:
            status = todo
        key = properties.get("test_id") or properties.get("test_key")
        test: dict[str, Any] = {"status": status}
        if key:
            test["testKey"] = key
        else:
            classname, name = case.get("classname"), str(case.get("name") or "")
            test["testInfo"] = {
                "projectKey": project,
                "summary": name,
                "type": "Generic",
                "definition": f"{classname}.{name}" if classname else name,
            }
        tests.append(test)
    document: dict[str, Any] = {"tests": tests}
    if params.get("testExecKey"):
        document["testExecutionKey"] = params["testExecKey"]
    info: dict[str, Any] = {"project": project, "summary": "Execution of automated tests"}
    if params.get("testPlanKey"):
        info["testPlanKey"] = params["testPlanKey"]
    if params.get("testEnvironments"):
        info["testEnvironments"] = [item for item in params["testEnvironments"].split(";") if item]
    for name, field in (("revision", "revision"), ("fixVersion", "version")):
        if params.get(name):
            info[field] = params[name]
    document["info"] = info
    return document


def create_app(state: XrayEmulatorState) -> FastAPI:  # noqa: PLR0915 - one closure per endpoint
    app = FastAPI(title="Jira Xray emulator (evidencehub)", docs_url=None, redoc_url=None)
    app.state.emulator = state

    @app.exception_handler(XrayApiError)
    async def api_error(_request: Request, error: XrayApiError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)

    @app.exception_handler(_ProxyError)
    async def proxy_error(_request: Request, _error: _ProxyError) -> Response:
        return Response(PROXY_502_BODY, status_code=502, media_type="text/html")

    def prefixes() -> tuple[str, ...]:
        return CLOUD_PREFIXES if state.config.flavour == "cloud" else SERVER_PREFIXES

    def check_prefix(prefix: str) -> None:
        if prefix not in prefixes():
            raise XrayApiError(404, f"no {state.config.flavour} Xray API under {prefix}")

    async def faults_before(body: bytes) -> None:
        faults = state.config.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        for status, probability in (
            (500, faults.error_500),
            (502, faults.error_502),
            (503, faults.error_503),
        ):
            if state.chance(probability):
                state.count(f"fault_{status}")
                if status == 502:
                    raise _ProxyError
                raise XrayApiError(
                    status, "Internal server error" if status == 500 else "Service unavailable"
                )
        if state.chance(faults.throttle_429):
            state.count("fault_429")
            state.refused(body, faults.retry_after_seconds)
            raise XrayApiError(
                429, "Too many requests", headers={"Retry-After": f"{faults.retry_after_seconds:g}"}
            )

    async def run_import(request: Request, prefix: str, make: Any) -> Response:
        check_prefix(prefix)
        body = await request.body()
        caller = state.caller(request.headers.get("authorization"))
        state.admit(caller, body)
        if len(body) > state.config.max_body_kb * 1024:
            raise XrayApiError(413, f"the request is larger than {state.config.max_body_kb} KB")
        await faults_before(body)
        document = make(body)
        execution, tests = state.import_json(document)
        answer = _answer(state, execution, tests, str(request.base_url).rstrip("/"))
        if state.chance(state.config.faults.drop_connection):
            state.count("fault_drop")
            return _DroppedResponse(answer)
        return JSONResponse(answer)

    def parse_json(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise XrayApiError(400, f"Error reading the request: the body is not valid JSON ({exc})") from exc

    for prefix in (*SERVER_PREFIXES, *CLOUD_PREFIXES):

        async def import_execution(request: Request, prefix: str = prefix) -> Response:
            return await run_import(request, prefix, parse_json)

        async def import_junit(request: Request, prefix: str = prefix) -> Response:
            params = dict(request.query_params)

            def make(_body: bytes) -> dict[str, Any]:
                return junit_document(form_file, params, state.config.flavour)

            check_prefix(prefix)
            await request.body()  # cached, so that run_import can read it again after the form
            form = await request.form()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise XrayApiError(400, "the JUnit report must be sent as the multipart field 'file'")
            form_file = await upload.read()
            if not params.get("projectKey") and not params.get("testExecKey"):
                raise XrayApiError(400, "projectKey or testExecKey is required")
            return await run_import(request, prefix, make)

        app.add_api_route(f"{prefix}/import/execution", import_execution, methods=["POST"])
        app.add_api_route(f"{prefix}/import/execution/junit", import_junit, methods=["POST"])

    for prefix in CLOUD_PREFIXES:

        async def authenticate(request: Request, prefix: str = prefix) -> Response:
            check_prefix(prefix)
            body = await request.body()
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if not isinstance(data, dict) or not data.get("client_id") or not data.get("client_secret"):
                raise XrayApiError(400, "client_id and client_secret are required")
            state.admit(str(data["client_id"]), body)
            return JSONResponse(state.issue_token(str(data["client_id"]), str(data["client_secret"])))

        app.add_api_route(f"{prefix}/authenticate", authenticate, methods=["POST"])

    # -- control

    @app.get("/__emulator__/counters")
    async def counters() -> dict[str, Any]:
        return state.snapshot()

    @app.get("/__emulator__/executions")
    async def executions() -> list[dict[str, Any]]:
        return state.executions_view()

    @app.get("/__emulator__/tests")
    async def tests() -> list[dict[str, Any]]:
        return state.tests_view()

    @app.post("/__emulator__/issues")
    async def seed(request: Request) -> dict[str, Any]:
        data = await request.json()
        issue = state.new_issue(
            str(data["project"]),
            str(data.get("type", "Test")),
            str(data.get("summary", "seeded")),
            test_type=data.get("test_type", "Manual" if data.get("type", "Test") == "Test" else None),
            definition=data.get("definition"),
        )
        return {"key": issue.key, "id": issue.id}

    @app.put("/__emulator__/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        state.set_faults(XrayFaults.model_validate(await request.json()))
        return state.config.faults.model_dump()

    @app.put("/__emulator__/config")
    async def set_config(request: Request) -> dict[str, Any]:
        state.update_config(dict(await request.json()))
        return {"flavour": state.config.flavour}

    @app.post("/__emulator__/reset")
    async def reset() -> dict[str, str]:
        state.reset()
        return {"state": "reset"}

    return app


class _ProxyError(Exception):
    """An injected 502: the proxy in front of Jira answers with its HTML page, Xray never sees the import."""


class _DroppedResponse(JSONResponse):
    """Applied, but the connection breaks mid-answer: the client cannot know it took effect."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await super().__call__(scope, receive, dropping(send))

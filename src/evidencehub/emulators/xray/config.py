"""The Xray emulator's knobs: flavour, who may sign in, the rate limit, validation limits and faults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class XrayFaults(BaseModel):
    """Probabilities (0..1) of each injected fault, per import request."""

    model_config = ConfigDict(extra="forbid")

    error_500: float = Field(0.0, ge=0, le=1, description="500 before processing.")
    error_502: float = Field(
        0.0, ge=0, le=1, description="502 with a proxy's HTML page (not Xray's JSON), before processing."
    )
    error_503: float = Field(0.0, ge=0, le=1, description="503 before processing.")
    throttle_429: float = Field(0.0, ge=0, le=1, description="429 with Retry-After, before processing.")
    retry_after_seconds: float = Field(1.0, ge=0, description="Retry-After of injected 429s.")
    latency_ms: float = Field(0.0, ge=0, description="Added to every import.")
    drop_connection: float = Field(
        0.0, ge=0, le=1, description="The import is applied, then the connection drops mid-response."
    )
    seed: int | None = Field(None, description="Random seed, for reproducible fault sequences.")


class XrayEmulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flavour: Literal["server", "cloud"] = "server"
    users: dict[str, str] = Field(default_factory=dict, description="Server/DC: user → password (Basic).")
    tokens: list[str] = Field(default_factory=list, description="Server/DC: personal access tokens.")
    api_keys: dict[str, str] = Field(default_factory=dict, description="Cloud: client_id → client_secret.")
    token_ttl_seconds: float = Field(24 * 3600.0, gt=0, description="Cloud: lifetime of a token.")
    token_expire_after_requests: int | None = Field(
        None, ge=1, description="Cloud: a token stops working (401, as if expired) after this many requests."
    )
    projects: list[str] | None = Field(None, description="Known project keys (None: any key).")
    rate_limit_requests: int | None = Field(
        None, ge=1, description="Requests per window per caller (Cloud Standard: 300); None: no limit."
    )
    rate_limit_window_seconds: float = Field(300.0, gt=0, description="The rate-limit window.")
    max_body_kb: int = Field(100 * 1024, ge=1, description="Largest import body (413 above).")
    max_evidence_kb: int = Field(10 * 1024, ge=1, description="Largest evidence file (400 above).")
    faults: XrayFaults = Field(default_factory=XrayFaults)

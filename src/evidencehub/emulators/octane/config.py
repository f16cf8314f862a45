"""The emulator's knobs: identity of the space, queue behaviour, and injected faults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FaultConfig(BaseModel):
    """Probabilities (0..1) of each injected fault, per API request unless said otherwise."""

    model_config = ConfigDict(extra="forbid")

    error_500: float = Field(0.0, ge=0, le=1, description="500 platform.general_error before processing.")
    error_502: float = Field(0.0, ge=0, le=1, description="502 from a 'proxy' (HTML body).")
    error_503: float = Field(0.0, ge=0, le=1, description="503 service unavailable.")
    throttle_429: float = Field(0.0, ge=0, le=1, description="429 with Retry-After.")
    retry_after_seconds: float = Field(1.0, ge=0, description="Retry-After sent with injected 429s.")
    latency_ms: float = Field(0.0, ge=0, description="Added to every API response.")
    latency_jitter_ms: float = Field(0.0, ge=0, description="Uniform extra latency on top.")
    drop_connection: float = Field(
        0.0, ge=0, le=1, description="The request is executed, then the connection drops mid-response."
    )
    lost_tasks: float = Field(
        0.0, ge=0, le=1, description="An accepted test-results task vanishes (404) instead of running."
    )
    only_test_results: bool = Field(
        True, description="Inject 5xx/429/drops only on test-results requests (not entity calls)."
    )
    seed: int | None = Field(None, description="Random seed, for reproducible fault sequences.")


class EmulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    space_id: int = 1001
    workspace_id: int = 1002
    api_keys: dict[str, str] = Field(
        default_factory=dict, description="client_id (or user) → secret accepted by sign_in."
    )
    queue_limit: int = Field(50, ge=0, description="Queued tasks above which uploads are refused.")
    tasks_per_second: float = Field(5.0, ge=0, description="Processing rate; 0 pauses processing.")
    queue_full_mode: Literal["503", "429"] = Field(
        "503", description="How 'queue full' is answered (the real code is unconfirmed upstream)."
    )
    queue_full_error_code: str = "testbox_queue_full"
    queue_full_retry_after: float | None = Field(
        None, ge=0, description="Retry-After on queue-full answers (always sent in 429 mode, default 10)."
    )
    session_ttl_seconds: float = Field(24 * 3600.0, gt=0, description="Cookies expire after this.")
    session_expire_after_requests: int | None = Field(
        None, ge=1, description="A session stops working after this many API requests (401)."
    )
    task_retention_seconds: float | None = Field(
        None, gt=0, description="Finished tasks are forgotten (404) after this long."
    )
    max_page_size: int = Field(2000, ge=1)
    default_page_size: int = Field(100, ge=1)
    max_payload_mb: int = Field(200, ge=1, description="Largest (decompressed) test-results payload.")
    faults: FaultConfig = Field(default_factory=FaultConfig)

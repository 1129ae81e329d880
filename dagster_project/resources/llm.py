"""The `llm` resource: the AI steps' model, server, key, budget and patience (dagster_project/ai/)."""

from __future__ import annotations

from dagster import ConfigurableResource, InitResourceContext

from ..ai.client import API_KEY_ENV, BASE_URL_ENV, MODEL_ENV, NUMBER_ENVS, PRICES_ENV, LLMSettings
from .fields import EnvFields, setting


class LlmResource(EnvFields, ConfigurableResource):
    """What `ai.client.LLMSettings` holds. The LLM is on when `api_key` or `base_url` is set; with
    neither the AI steps write the rule decisions (docs/ai.md). The key is secret (masked in the
    launchpad) and only ever an `EnvVar`; it reaches the step's child on its stdin."""

    api_key: str | None = setting(API_KEY_ENV, "OpenAI (or compatible server) API key.", secret=True)
    base_url: str | None = setting(BASE_URL_ENV, "An OpenAI-compatible server's base URL (vLLM, Ollama...).")
    model: str | None = setting(MODEL_ENV, "The model asked (gpt-4o-mini).")
    timeout: str | None = setting(NUMBER_ENVS["timeout_s"], "Seconds per call (30).")
    concurrency: str | None = setting(NUMBER_ENVS["concurrency"], "Calls in flight at once (16).")
    max_attempts: str | None = setting(NUMBER_ENVS["max_attempts"], "Attempts per call (4).")
    backoff: str | None = setting(NUMBER_ENVS["backoff_s"], "First retry pause, seconds (1).")
    max_backoff: str | None = setting(NUMBER_ENVS["max_backoff_s"], "Longest retry pause, seconds (30).")
    breaker: str | None = setting(
        NUMBER_ENVS["breaker_threshold"], "Consecutive failed calls that stop a step's batch (20)."
    )
    min_confidence: str | None = setting(
        NUMBER_ENVS["min_confidence"], "A track answer less confident than this falls back to the rules (0.6)."
    )
    max_calls: str | None = setting(NUMBER_ENVS["max_calls"], "Calls per step and run at most (10000).")
    prices: str | None = setting(
        PRICES_ENV, 'Extra prices per 1M tokens as JSON, {"model": [input_usd, output_usd]}.'
    )

    def llm_settings(self) -> LLMSettings:
        """The AI steps' settings, checked (`SettingsError` names the variable)."""
        return LLMSettings.from_variables(self.variables())

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.llm_settings()  # a malformed value fails the run when it starts, naming its variable

"""An offline Inspect model, so real Inspect logs can be made without a network or an API key.

Inspect writes a log only when a task runs against a model. The 10,000-sample import bench case
(analytics.bench.evals_case) and the importer's tests (tests/analytics/ingest/test_ingest_inspect.py) both need
real logs, written by Inspect's own writer so the files are what the institutes produce; both run their tasks
against the `offline` provider registered here, once (it used to be defined twice, under two names).

The model is scripted through Inspect's model args (`eval(..., model_args={...})`, or `-M` on the command line):
`script` maps a prompt to its answer, `fallback` answers every other prompt (not `default`: Inspect's
get_model() keeps that argument for itself), `tool_call` maps a prompt to a tool call [name, arguments] the model
makes first (answering "The tool said <result>" once the tool replied), so an agentic transcript can be made, and
`error` makes every call fail the way an unreachable API does,
so a log of a failed run can be made too. Inspect memoises models by their
arguments, so differently scripted models never share an instance.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import GenerateConfig, ModelAPI, ModelOutput, modelapi

PROVIDER = "offline"


@modelapi(name=PROVIDER)
class OfflineModel(ModelAPI):
    """Answers the last message's text from `script`, else `fallback`; raises RuntimeError(`error`) if set."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 - Inspect's own signature
        *,
        script: dict[str, str] | None = None,
        fallback: str = "",
        tool_call: dict[str, list[Any]] | None = None,
        error: str | None = None,
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.script = dict(script or {})
        self.fallback = fallback
        self.tool_call = dict(tool_call or {})
        self.error = error

    async def generate(self, input: Any, tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        if self.error is not None:
            raise RuntimeError(self.error)
        prompt = input[-1].text if input else ""
        if input and input[-1].role == "tool":
            return ModelOutput.from_content(model=self.model_name, content=f"The tool said {prompt}")
        if prompt in self.tool_call and tools:
            name, arguments = self.tool_call[prompt]
            return ModelOutput.for_tool_call(self.model_name, name, dict(arguments))
        return ModelOutput.from_content(model=self.model_name, content=self.script.get(prompt, self.fallback))

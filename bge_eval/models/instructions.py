"""Which inputs get a query instruction, under each instruction policy: `bge` as BGE's own
evaluation scripts (English models: Retrieval queries except ArguAna and QuoraRetrieval; Chinese
models: Retrieval and Reranking queries; never passages), `mteb` as mteb's registry prompts,
`none`. A custom instruction replaces the model's text and follows the bge routing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .spec import ModelSpec

# Tasks whose queries are passages themselves: BGE evaluates them without the instruction.
BGE_ENGLISH_SKIP = frozenset({"ArguAna", "QuoraRetrieval"})
BGE_QUERY_TASK_TYPES = {"en": frozenset({"Retrieval"}), "zh": frozenset({"Retrieval", "Reranking"})}


@dataclass(frozen=True)
class InstructionRouter:
    """Decides the instruction (or None) for one encode call."""

    policy: str
    spec: ModelSpec
    custom: str | None = None
    mteb_prompts: dict[str, str] | None = None  # mteb registry prompts, for policy "mteb"

    @classmethod
    def for_config(cls, config: Any, spec: ModelSpec, meta: Any) -> InstructionRouter:
        """The router a RunConfig asks for (its instruction_policy and instruction)."""
        prompts = None
        if config.instruction_policy == "mteb":
            from .._mteb import registry_prompts

            prompts = registry_prompts(meta)
        return cls(policy=config.instruction_policy, spec=spec, custom=config.instruction, mteb_prompts=prompts)

    @property
    def text(self) -> str | None:
        """The instruction text the bge routing uses."""
        return self.custom if self.custom is not None else self.spec.query_instruction

    def instruction_for(self, task_metadata: Any, prompt_type: Any) -> str | None:
        """The instruction to prepend for one mteb encode call (None: no instruction).

        task_metadata: mteb's TaskMetadata (its name and type are read);
        prompt_type: mteb's PromptType (query / document) or None for symmetric tasks.
        """
        if self.policy == "none":
            return None
        if self.policy == "mteb":
            from .._mteb import get_prompt_name

            key = get_prompt_name(self.mteb_prompts, task_metadata, prompt_type)
            return (self.mteb_prompts or {}).get(key) if key else None
        role = getattr(prompt_type, "value", prompt_type)
        if role != "query" or not self.text:
            return None
        language = "zh" if self.spec.language == "zh" else "en"
        if task_metadata.type not in BGE_QUERY_TASK_TYPES[language]:
            return None
        if language == "en" and task_metadata.name in BGE_ENGLISH_SKIP:
            return None
        return self.text

    def describe(self) -> dict[str, Any]:
        """Recorded in the run manifest."""
        return {"policy": self.policy, "instruction": self.text, "custom": self.custom is not None}

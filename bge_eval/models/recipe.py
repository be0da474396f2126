"""The evaluation recipe: per task, the query instruction (or none) and whether vectors are
L2-normalised, under each instruction policy.

`bge` is BGE's own evaluation, as FlagEmbedding's C_MTEB/eval_MTEB.py and eval_C-MTEB.py ran it
(the sources of every rule are in docs/recipe.md): an English task is evaluated as
eval_MTEB.py does (vectors not normalised; the English instruction on queries of the tasks in
BGE_ENGLISH_INSTRUCTED only, for BGE's English models only), a Chinese task as eval_C-MTEB.py
does (vectors normalised; the Chinese instruction on queries of BGE_CHINESE_INSTRUCTED, for
BGE's Chinese models only). A model that is not BGE's keeps its checkpoint's normalisation and
gets no instruction. `mteb` is mteb's registry prompts with the checkpoint's normalisation;
`none` is no instruction with the checkpoint's normalisation. A custom instruction replaces
the model's text on the tasks the bge policy instructs, whatever the model's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .spec import ModelSpec

# eval_MTEB.py: the tasks whose queries get the instruction (every CQADupstack* task and these).
BGE_ENGLISH_INSTRUCTED_PREFIX = "CQADupstack"
BGE_ENGLISH_INSTRUCTED = frozenset({
    "Touche2020", "SciFact", "TRECCOVID", "NQ", "NFCorpus", "MSMARCO", "HotpotQA", "FiQA2018", "FEVER",
    "DBPedia", "ClimateFEVER", "SCIDOCS",
})
# eval_C-MTEB.py: the 8 retrieval and 4 reranking tasks whose queries get the instruction
# (its CMedQAv1 / CMedQAv2 are named CMedQAv1-reranking / CMedQAv2-reranking in mteb 2).
BGE_CHINESE_INSTRUCTED = frozenset({
    "T2Retrieval", "MMarcoRetrieval", "DuRetrieval", "CovidRetrieval", "CmedqaRetrieval", "EcomRetrieval",
    "MedicalRetrieval", "VideoRetrieval", "T2Reranking", "MMarcoReranking", "CMedQAv1-reranking",
    "CMedQAv2-reranking",
})
# eval_C-MTEB.py's table keys bge-small-zh-v1.5 as "bge-small-zh-v.15", so the literal script gives
# it no instruction unless --add_instruction; we give it the instruction as to its siblings.
SMALL_ZH_NOTE = ("BAAI/bge-small-zh-v1.5 gets the instruction: BGE's eval_C-MTEB.py misspells its table key "
                 "('bge-small-zh-v.15'); the literal script instructs it only with --add_instruction")
BGE_FAMILIES = frozenset({"bge", "bge-v1.5"})
CHINESE_LANGUAGES = frozenset({"cmn", "zho"})
POLICIES = ("bge", "mteb", "none")
RECIPE_PRECISION = "fp32"  # flag_dres_model.py loads the model in fp32 and never casts it


def is_chinese_task(task_metadata: Any) -> bool:
    """A task eval_C-MTEB.py would run (every language of it Chinese); any other is eval_MTEB.py's."""
    languages = {str(lang).split("-")[0] for lang in (getattr(task_metadata, "languages", None) or [])}
    return bool(languages) and languages <= CHINESE_LANGUAGES


@dataclass(frozen=True)
class TaskRecipe:
    """What the recipe does on one task (`tasks --model` shows it; the identity records it)."""

    instruction: str | None  # the text put before each query (None: none)
    normalize: bool  # vectors L2-normalised after pooling


@dataclass(frozen=True)
class Recipe:
    """Decides each task's instruction and normalisation for one model under one policy."""

    policy: str
    spec: ModelSpec
    custom: str | None = None
    mteb_prompts: dict[str, str] | None = None  # mteb registry prompts, for policy "mteb"

    @classmethod
    def for_config(cls, config: Any, spec: ModelSpec, meta: Any) -> Recipe:
        """The recipe a RunConfig asks for (its instruction_policy and instruction)."""
        prompts = None
        if config.instruction_policy == "mteb":
            from .._mteb import registry_prompts

            prompts = registry_prompts(meta)
        return cls(policy=config.instruction_policy, spec=spec, custom=config.instruction, mteb_prompts=prompts)

    @property
    def is_bge_model(self) -> bool:
        return self.spec.family in BGE_FAMILIES

    @property
    def text(self) -> str | None:
        """The instruction text the bge policy uses (the custom one, else the model's)."""
        return self.custom if self.custom is not None else self.spec.query_instruction

    def normalize_for(self, task_metadata: Any) -> bool:
        if self.policy == "bge" and self.is_bge_model:
            return is_chinese_task(task_metadata)  # eval_C-MTEB.py normalises, eval_MTEB.py does not
        return self.spec.normalize

    def query_instruction_for(self, task_metadata: Any) -> str | None:
        """The instruction on this task's queries under the bge policy (None: none)."""
        chinese = is_chinese_task(task_metadata)
        name = task_metadata.name
        card_says = getattr(task_metadata, "query_instructed", None)
        if card_says is not None:  # a task card (tasks/cards.py) says whether its queries are instructed
            listed = card_says
        else:
            listed = (name in BGE_CHINESE_INSTRUCTED if chinese
                      else name in BGE_ENGLISH_INSTRUCTED or name.startswith(BGE_ENGLISH_INSTRUCTED_PREFIX))
        if not listed:
            return None
        if self.custom is not None:
            return self.custom
        same_language = self.spec.language == ("zh" if chinese else "en")
        return self.spec.query_instruction if self.is_bge_model and same_language else None

    def instruction_for(self, task_metadata: Any, prompt_type: Any) -> str | None:
        """The instruction to prepend for one mteb encode call (None: no instruction).

        task_metadata: mteb's TaskMetadata (its name, type and languages are read);
        prompt_type: mteb's PromptType (query / document) or None for symmetric tasks."""
        if self.policy == "none":
            return None
        if self.policy == "mteb":
            from .._mteb import get_prompt_name

            key = get_prompt_name(self.mteb_prompts, task_metadata, prompt_type)
            return (self.mteb_prompts or {}).get(key) if key else None
        if getattr(prompt_type, "value", prompt_type) != "query":
            return None
        return self.query_instruction_for(task_metadata)

    def for_task(self, task_metadata: Any) -> TaskRecipe:
        """The task's recipe: its queries' instruction and its normalisation."""
        from .._mteb import PromptType
        from ..tasks.types import RANKING_TYPES

        role = PromptType.query if task_metadata.type in RANKING_TYPES else None  # others are symmetric
        return TaskRecipe(self.instruction_for(task_metadata, role), self.normalize_for(task_metadata))

    def notes(self) -> list[str]:
        """What a reader of the results must know about this recipe (shown in reports)."""
        notes = [self.spec.guessed] if self.spec.guessed else []
        if self.policy == "bge" and self.custom is None and self.spec.name == "BAAI/bge-small-zh-v1.5":
            notes.append(SMALL_ZH_NOTE)
        return notes

    def describe(self) -> dict[str, Any]:
        """Recorded in the run manifest."""
        return {"policy": self.policy, "instruction": self.text, "custom": self.custom is not None,
                "notes": self.notes()}

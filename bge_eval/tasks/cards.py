"""Your own data as a task: a folder holding a task card (task.toml) beside its data, in the
layouts of ../shared/data (BEIR files for Retrieval; JSON Lines for the other types). A card is
built into a real mteb task (a TaskMetadata and the task class of its type), so mteb's metrics,
result files and predictions are the same as for a registry task.

    name = "SupportTickets"        # required; the result file's name
    type = "Retrieval"             # required: Retrieval, Reranking, STS, PairClassification,
                                   #   Classification (needs a train split), Clustering
    language = "eng"               # required: ISO 639-3 as mteb writes it (eng, zho, cmn, ...)
    description = "..."            # optional
    splits = ["test"]              # optional: default every split file present
    main_score = "ndcg_at_10"      # optional: default mteb's for the type
    score_range = [0, 5]           # optional, STS: default the range seen in the data
    instructed = true              # optional: queries get the query instruction; default as the
                                   #   recipe for the type and language (Retrieval; Chinese Reranking too)
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import _mteb
from .._util import read_toml_as
from ..errors import DataError
from .local_data import attach_folder, read_jsonl
from .names import CARD_FILE
from .own_task import own_task_metadata
from .types import CARD_TYPES, TASK_KINDS

CardType = Literal["Retrieval", "Reranking", "STS", "PairClassification", "Classification", "Clustering"]
# The writing system mteb's language codes carry, for the languages a card may name alone.
SCRIPTS = {"eng": "Latn", "zho": "Hans", "cmn": "Hans", "yue": "Hant", "jpn": "Jpan", "kor": "Hang", "deu": "Latn",
           "fra": "Latn", "spa": "Latn", "ita": "Latn", "por": "Latn", "nld": "Latn", "rus": "Cyrl", "ara": "Arab"}
CHINESE = ("zho", "cmn")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"  # a task or suite name: one plain file name
StrictNumber = Annotated[float, Field(strict=True)]


class TaskCard(BaseModel):
    """task.toml, checked: unknown keys, wrong types and bad values are errors."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    type: CardType
    language: str = Field(pattern=r"^[a-z]{3}(-[A-Z][a-z]{3})?$")
    description: str = Field(default="", max_length=2000)
    splits: list[Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]] | None = Field(default=None, min_length=1)
    main_score: str | None = None
    score_range: tuple[StrictNumber, StrictNumber] | None = None  # strict: "5" in the card is an error, not 5
    instructed: Annotated[bool, Field(strict=True)] | None = None

    @field_validator("language")
    @classmethod
    def _known_script(cls, value: str) -> str:
        if "-" not in value and value not in SCRIPTS:
            raise ValueError(f"give the script too, as mteb writes it (for example {value}-Latn)")
        return value

    @field_validator("score_range")
    @classmethod
    def _finite_increasing(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (math.isfinite(value[0]) and math.isfinite(value[1]) and value[0] < value[1]):
            raise ValueError(f"expected two finite numbers, the lowest score first (got {list(value)})")
        return value

    @model_validator(mode="after")
    def _fits_the_type(self) -> TaskCard:
        metrics = TASK_KINDS[self.type].card_metrics
        if self.main_score is not None and self.main_score not in metrics:
            close = [m for m in metrics if m.split("_")[0] == self.main_score.split("_")[0]][:4] or list(metrics[:4])
            raise ValueError(f"main_score {self.main_score!r} is not a metric mteb writes for {self.type} "
                             f"(for example {', '.join(close)}; docs/data-formats.md lists them)")
        if self.score_range is not None and self.type != "STS":
            raise ValueError(f"score_range is for STS cards; a {self.type} card has no gold scores to bound")
        if self.splits is not None and len(set(self.splits)) != len(self.splits):
            raise ValueError("splits: a split is listed twice")
        return self

    @property
    def eval_lang(self) -> str:
        return self.language if "-" in self.language else f"{self.language}-{SCRIPTS[self.language]}"

    @property
    def default_instructed(self) -> bool:
        chinese = self.language.split("-")[0] in CHINESE
        return self.type == "Retrieval" or (chinese and self.type == "Reranking")


def find_cards(task_dir: Path) -> list[Path]:
    """Every card folder under task_dir (--task-dir), in path order."""
    task_dir = Path(task_dir)
    if not task_dir.is_dir():
        raise DataError(f"--task-dir {task_dir}: not a folder.")
    folders = sorted(p.parent for p in task_dir.rglob(CARD_FILE))
    if not folders:
        raise DataError(f"--task-dir {task_dir}: no {CARD_FILE} under it (a card folder holds one beside its data).")
    return folders


def read_card(folder: Path) -> TaskCard:
    """The card in `folder`, checked; a DataError naming the file (and line or key) otherwise."""
    folder = Path(folder)
    path = folder / CARD_FILE
    if not folder.is_dir():
        raise DataError(f"--tasks {folder}: no such folder (a card folder holds {CARD_FILE} beside its data).")
    if not path.is_file():
        raise DataError(f"{path}: missing; a card folder needs a {CARD_FILE} with at least name, type and language.")
    return read_toml_as(path, TaskCard, "the card format in docs/data-formats.md")


def card_splits(card: TaskCard, folder: Path) -> list[str]:
    """The splits evaluated: the card's, else every split file present (Classification's train aside)."""
    if card.type == "Retrieval":
        present = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        where = f"{folder / 'qrels'}/<split>.tsv"
    else:
        present = sorted(p.stem for p in folder.glob("*.jsonl"))
        where = f"{folder}/<split>.jsonl"
    if card.type == "Classification":
        if "train" not in present:
            raise DataError(f"{folder / 'train.jsonl'}: missing; a Classification card needs a train split "
                            "(mteb fits its classifier on it).")
        present = [s for s in present if s != "train"]
    splits = card.splits or present
    missing = [s for s in splits if s not in present]
    if missing or not splits:
        raise DataError(f"{folder / CARD_FILE}: no data for split(s) {', '.join(missing) or '(none found)'}; "
                        f"expected {where}.")
    return splits


def _seen_score_range(folder: Path, splits: list[str]) -> tuple[float, float]:
    scores = [row["score"] for split in splits
              for _, row in read_jsonl(folder / f"{split}.jsonl", TASK_KINDS["STS"].fields)
              if isinstance(row.get("score"), (int, float)) and not isinstance(row.get("score"), bool)]
    if not scores:
        raise DataError(f"{folder}: no numeric score in the STS split(s) {', '.join(splits)}.")
    return float(min(scores)), float(max(scores))


@cache
def _base_classes() -> dict[str, type]:
    return {t: getattr(_mteb, str(TASK_KINDS[t].card_class)) for t in CARD_TYPES}


class _CardData:
    """Loads the card folder's data as a local task folder is loaded."""

    card_folder: Path
    data_loaded: bool  # mteb's AbsTask's, beside which this is mixed in

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if not self.data_loaded:
            attach_folder(self, self.card_folder)


def card_task(folder: Path) -> Any:
    """The mteb task a card folder describes (a fresh object). A name that is also a registry
    or demo task's is an error: results are stored under it."""
    folder = Path(folder).resolve()
    card = read_card(folder)
    _refuse_registry_name(card, folder)
    splits = card_splits(card, folder)
    main_score = card.main_score or str(TASK_KINDS[card.type].card_main_score)  # every card type has one
    instructed = card.default_instructed if card.instructed is None else card.instructed
    metadata = own_task_metadata(
        card.name, card.type, main_score, card.eval_lang, splits,
        card.description or f"Own data from the card at {folder}.",
        {"path": f"card:{folder}", "revision": "local"}, query_instructed=instructed)
    attributes: dict[str, Any] = {"metadata": metadata, "card_folder": folder}
    if card.type == "STS":
        attributes["min_score"], attributes["max_score"] = card.score_range or _seen_score_range(folder, splits)
    cls = type(f"Card{card.name}", (_CardData, _base_classes()[card.type]), attributes)
    return cls()



def _refuse_registry_name(card: TaskCard, folder: Path) -> None:
    import mteb

    from .demo import DEMO_TASKS

    known = {cls.metadata.name for cls in DEMO_TASKS}
    try:
        mteb.get_task(card.name)
        clash = True
    except Exception:  # noqa: BLE001 - not an mteb task name
        clash = card.name in known
    if clash:
        raise DataError(f"{folder / CARD_FILE}: name {card.name!r} is a registry task's; choose another name "
                        "(results are stored under it).")

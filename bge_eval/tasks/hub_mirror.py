"""Load a local mirror of a task's hub dataset (parquet / JSON Lines / CSV files plus a
README.md whose YAML `configs:` lists config names and split files), in memory.

The files hold the hub's raw columns, so the task's own `dataset_transform` runs after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import _mteb
from ..errors import DataError
from .types import task_kind


def load_hub_mirror(task: Any, folder: Path) -> None:
    configs = {c["config_name"]: _split_files(c, folder) for c in hub_configs(folder / "README.md")}
    kind = task_kind(task.metadata.type)
    subsets = task.hf_subsets if task.metadata.is_multilingual else ["default"]
    dataset: dict[str, Any] = {}
    for subset in subsets:
        dataset[subset] = {}
        for split in task.eval_splits:
            if kind is not None and kind.loader != "jsonl":  # corpus, queries and judgements
                dataset[subset][split] = _retrieval_split(configs, subset, split, folder)
            else:
                dataset[subset][split] = _read(configs, subset, split, folder)
        if kind is not None and kind.train_split:
            train = _mteb.train_split(task)
            dataset[subset][train] = _read(configs, subset, train, folder)
    if not task.metadata.is_multilingual and (kind is None or kind.loader == "jsonl"):
        from datasets import DatasetDict

        dataset = DatasetDict(dataset["default"])
    _mteb.set_task_data(task, dataset)
    _mteb.transform_dataset(task)


def hub_configs(readme: Path) -> list[dict]:
    """The `configs:` of a hub dataset card's YAML header; [] when it has none."""
    import yaml

    text = readme.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return []
    try:
        header = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{readme}: the YAML header does not parse ({exc}).") from exc
    return list(header.get("configs") or [])


def _split_files(config: dict, folder: Path) -> dict[str, list[Path]]:
    files = config.get("data_files") or []
    if isinstance(files, (str, dict)):
        files = [files]
    out: dict[str, list[Path]] = {}
    for entry in files:
        if isinstance(entry, str):
            entry = {"split": "train", "path": entry}
        paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
        for pattern in paths:
            matched = sorted(folder.glob(pattern))
            if not matched:
                raise DataError(
                    f"{folder / 'README.md'}: config {config['config_name']!r} names {pattern!r}, "
                    "which matches no file."
                )
            out.setdefault(entry["split"], []).extend(matched)
    return out


def _frame(paths: list[Path]) -> Any:
    import pandas as pd

    frames = []
    for path in paths:
        name = path.name.lower()
        if name.endswith(".parquet"):
            frames.append(pd.read_parquet(path))
        elif name.endswith((".jsonl", ".json")):
            frames.append(pd.read_json(path, lines=name.endswith(".jsonl")))
        elif name.endswith((".csv", ".tsv")):
            frames.append(pd.read_csv(path, sep="\t" if name.endswith(".tsv") else ","))
        else:
            raise DataError(f"{path}: unsupported file type; use parquet, jsonl, json, csv or tsv.")
    return pd.concat(frames, ignore_index=True)


def _read(configs: dict, config: str, split: str, folder: Path) -> Any:
    from datasets import Dataset

    if config not in configs:
        raise DataError(f"{folder / 'README.md'}: no config {config!r}; configs: {sorted(configs)}.")
    splits = configs[config]
    if split not in splits:
        if len(splits) != 1:
            raise DataError(f"{folder}: config {config!r} has no split {split!r} ({sorted(splits)}).")
        split = next(iter(splits))
    return Dataset.from_pandas(_frame(splits[split]), preserve_index=False)


def _retrieval_split(configs: dict, subset: str, split: str, folder: Path) -> dict:
    prefix = "" if subset == "default" else f"{subset}-"
    corpus = _read(configs, f"{prefix}corpus", split, folder)
    queries = _read(configs, f"{prefix}queries", split, folder)
    if "_id" in corpus.column_names:
        corpus = corpus.rename_column("_id", "id")
    if "_id" in queries.column_names:
        queries = queries.rename_column("_id", "id")
    corpus = corpus.cast_column("id", _string()) if "id" in corpus.column_names else corpus
    queries = queries.cast_column("id", _string()) if "id" in queries.column_names else queries
    qrels_config = f"{subset}-qrels" if subset != "default" else ("default" if "default" in configs else "qrels")
    relevant: dict[str, dict[str, int]] = {}
    for row in _read(configs, qrels_config, split, folder):
        relevant.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    top_ranked = None
    if f"{prefix}top_ranked" in configs:
        top_ranked = {
            str(row["query-id"]): [str(d) for d in row["corpus-ids"]]
            for row in _read(configs, f"{prefix}top_ranked", split, folder)
        }
    return {"corpus": corpus, "queries": queries, "relevant_docs": relevant, "top_ranked": top_ranked}


def _string() -> Any:
    from datasets import Value

    return Value("string")

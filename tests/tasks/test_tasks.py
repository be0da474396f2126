import pytest

from bge_eval.errors import DataError, UnknownNameError
from bge_eval.tasks.selection import canonical_benchmark, load_registry, plan_tasks


def test_cmteb_registry_matches_mteb_benchmark():
    import mteb

    registry = load_registry()
    benchmark = mteb.get_benchmark(registry.benchmark)
    ours = {t.name: t.type for t in registry.tasks}
    theirs = {t.metadata.name: t.metadata.type for t in benchmark.tasks}
    assert len(ours) == 31
    assert ours == theirs


def test_cmteb_alias():
    assert canonical_benchmark("C-MTEB") == "MTEB(cmn, v1)"
    assert canonical_benchmark("MTEB(eng, v1)") == "MTEB(eng, v1)"


@pytest.mark.parametrize(
    "task,split",
    [("STSB", "test"), ("ATEC", "test"), ("BQ", "test"), ("AFQMC", "validation"),
     ("Ocnli", "validation"), ("MultilingualSentiment", "validation"), ("SciFact", "test")],
)
def test_tasks_are_scored_on_the_benchmark_split(task, split):
    plan = plan_tasks([task], None, None, "en")
    assert plan.tasks[0].splits == (split,)


def test_benchmark_with_data_dir_lists_skipped_tasks(shared_data):
    plan = plan_tasks([], "C-MTEB", shared_data, "zh")
    names = {t.name for t in plan.tasks}
    assert {"STSB", "ATEC", "BQ", "LCQMC", "PAWSX", "AFQMC", "Ocnli", "QBQTC"} <= names
    assert "T2Retrieval" in plan.skipped and not names & set(plan.skipped)
    assert len(names) + len(plan.skipped) == 31


def test_named_task_without_local_data_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"Task NFCorpus: no local data.*NFCorpus"):
        plan_tasks(["NFCorpus"], None, tmp_path, "en")


def test_unknown_names_suggest_close_matches():
    with pytest.raises(UnknownNameError, match="Did you mean 'SciFact'"):
        plan_tasks(["SciFakt"], None, None, "en")
    with pytest.raises(UnknownNameError, match="Did you mean"):
        canonical_benchmark("MTEB(eng, v2")


def test_default_benchmark_follows_language():
    assert plan_tasks([], None, None, "zh").benchmark == "MTEB(cmn, v1)"
    assert len(plan_tasks([], None, None, "en").tasks) == 56


def test_planning_hands_out_copies_and_never_changes_mteb_registry_objects():
    import mteb

    registry = {t.metadata.name: t for t in mteb.get_benchmark("MTEB(cmn, v1)").tasks}
    before = {name: list(task.eval_splits) for name, task in registry.items()}
    plan = plan_tasks((), "C-MTEB", None, "zh")
    for planned in plan.tasks:
        assert planned.task is not registry[planned.name]
        planned.task.filter_eval_splits(["changed-by-a-run"])
    assert {name: list(task.eval_splits) for name, task in registry.items()} == before
    again = plan_tasks(("T2Reranking",), None, None, "zh")
    assert again.tasks[0].splits == ("dev",)  # a later plan is not affected by an earlier run's changes

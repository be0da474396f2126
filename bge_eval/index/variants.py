"""What a deployed index is, as a value: parsed from `--index` words, each one a variant of one set
of embeddings (docs/index-variants.md):

    exact                    today's search: fp32 cosine, exact top-k (the reference)
    fp16                     vectors stored in half precision
    int8                     per-dimension scalar quantization, ranges taken from the corpus
    binary                   sign bits, Hamming distance
    binary-rescore:R         binary's top R rescored by the fp32 query against int8 documents
    dims:D                   the first D dimensions, renormalised (cosine)
    hnsw:M[:EF]              faiss HNSW, M links per node, efSearch EF (default 64)
    ivf-flat:NLIST[:NPROBE]  faiss IVF with flat lists (default nprobe 8)
    ivf-pq:NLIST:M[:NPROBE]  faiss IVF-PQ, M sub-quantizers of 8 bits
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

APPROXIMATE = ("hnsw", "ivf-flat", "ivf-pq")
REVISION_MARK = "+index-"  # a variant's results are revision REV+index-VARIANT of the run's model
DEFAULT_EF_SEARCH = 64
DEFAULT_NPROBE = 8
FORMS = {  # kind: (the parameters it takes, how many of them are required)
    "exact": ((), 0), "fp16": ((), 0), "int8": ((), 0), "binary": ((), 0),
    "binary-rescore": (("rescore",), 1), "dims": (("dims",), 1),
    "hnsw": (("m", "ef_search"), 1), "ivf-flat": (("nlist", "nprobe"), 1), "ivf-pq": (("nlist", "m", "nprobe"), 2),
}


@dataclass(frozen=True)
class IndexSpec:
    """One index variant: its kind and whole-number parameters (by name)."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The variant as written on the command line (and in result identities): kind:param:param."""
        names, _ = FORMS[self.kind]
        values = [str(self.params[n]) for n in names if n in self.params]
        return ":".join([self.kind, *values])

    @property
    def approximate(self) -> bool:
        return self.kind in APPROXIMATE

    @property
    def stored_form(self) -> bool:
        """A way of storing vectors (scored by one dot product), not rescoring or approximate search."""
        return self.kind in ("exact", "fp16", "int8", "binary", "dims")

    def param(self, name: str, default: int) -> int:
        return self.params.get(name, default)


def variant_revision(revision: str, spec: IndexSpec) -> str:
    return f"{revision}{REVISION_MARK}{spec.name.replace(':', '-')}"


def run_revision(revision: str) -> str | None:
    """The run's revision a variant's revision belongs to; None when `revision` is not a variant's."""
    base, mark, _ = revision.rpartition(REVISION_MARK)
    return base if mark else None


def revision_variant(revision: str) -> str | None:
    """The variant part of a variant's revision ("int8", "hnsw-32"); None when it is not a variant's."""
    _, mark, variant = revision.rpartition(REVISION_MARK)
    return variant if mark else None


def parse_index(text: str) -> IndexSpec:
    """`--index` words -> IndexSpec; anything else is a ConfigError naming the option and the forms."""
    kind, *values = text.strip().split(":")
    if kind not in FORMS:
        raise ConfigError(f"--index {text!r}: unknown variant; one of {', '.join(FORMS)} (docs/index-variants.md).")
    names, required = FORMS[kind]
    if not required <= len(values) <= len(names):
        form = ":".join([kind, *(n.upper() for n in names[:required])] + [f"[{n.upper()}]" for n in names[required:]])
        raise ConfigError(f"--index {text!r}: {kind} takes {form}.")
    params = {}
    for name, value in zip(names, values, strict=False):
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"--index {text!r}: {name} must be a whole number of 1 or more, got {value!r}.")
        params[name] = int(value)
    return IndexSpec(kind, params)


def check_against(spec: IndexSpec, docs: int, width: int, k: int) -> None:
    """Parameters that cannot work on this corpus: a ConfigError naming the variant and what to give."""
    where = f"--index {spec.name}"
    if spec.kind == "dims" and spec.params["dims"] > width:
        raise ConfigError(f"{where}: the embeddings have {width} dimensions; give dims:D with D <= {width}.")
    if spec.kind == "binary-rescore" and spec.params["rescore"] < k:
        raise ConfigError(f"{where}: rescoring {spec.params['rescore']} candidates cannot fill a top {k}; "
                          f"give binary-rescore:R with R >= {k}.")
    if spec.kind in ("ivf-flat", "ivf-pq") and spec.params["nlist"] > docs:
        raise ConfigError(f"{where}: {spec.params['nlist']} lists for a corpus of {docs} documents; give nlist <= "
                          f"{docs} (about 4 x sqrt(documents) is usual).")
    if spec.kind == "ivf-pq" and width % spec.params["m"]:
        raise ConfigError(f"{where}: {spec.params['m']} sub-quantizers do not divide {width} dimensions; give M "
                          f"that divides {width}.")
    if spec.kind == "ivf-pq" and docs < 256:
        raise ConfigError(f"{where}: product quantization needs at least 256 documents to train its codes "
                          f"({docs} here).")

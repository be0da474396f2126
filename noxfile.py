"""nox sessions: tests, hermetic, tests_lowest_mteb, lint, demo, reproduce. Each installs torch's CPU build first."""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"

LOWEST_MTEB = "mteb==2.26.0"  # the lower bound of pyproject's mteb requirement


def _install(session: nox.Session, *extra: str) -> None:
    session.install("torch==2.13.0")  # before the project: a bare torch pulls a CUDA build
    session.install("-e", ".[dev]", *extra)


@nox.session
def tests(session: nox.Session) -> None:
    """The default test run (network forbidden by pytest-socket, see pyproject.toml)."""
    _install(session)
    session.run("bash", ".ci/peers", external=True)  # FlagEmbedding's environment, for tests/peers
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def hermetic(session: nox.Session) -> None:
    """The tier that needs neither ../shared, model weights nor a browser, run with them taken away."""
    _install(session)
    session.run("python", "-m", "pytest", "-m", "hermetic", *session.posargs, env={"BGE_EVAL_HERMETIC_CHECK": "1"})


@nox.session
def tests_lowest_mteb(session: nox.Session) -> None:
    """The tests on the lowest mteb the requirement allows (the contract test and Reranking included)."""
    _install(session, LOWEST_MTEB)
    session.run("bash", ".ci/peers", external=True)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def reproduce(session: nox.Session) -> None:
    """Every published-score reproduction, the slow ones included (minutes on CPU)."""
    _install(session)
    session.run("python", "-m", "pytest", "-m", "slow or not slow", "tests/reproduction", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the code, mypy over the package (the project installed, so its libraries' types are known)."""
    _install(session)
    session.run("ruff", "check", "bge_eval", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", "bge_eval")


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: the bundled demo suite with all-MiniLM-L6-v2, offline."""
    _install(session)
    session.run("python", "-m", "bge_eval", "run", *session.posargs)

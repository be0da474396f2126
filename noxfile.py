"""nox sessions: tests, lint, demo, reproduce. Each installs torch's CPU build first."""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"


def _install(session: nox.Session) -> None:
    session.install("torch==2.13.0")  # before the project: a bare torch pulls a CUDA build
    session.install("-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    """The default test run (network forbidden by pytest-socket, see pyproject.toml)."""
    _install(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def reproduce(session: nox.Session) -> None:
    """Every published-score reproduction, the slow ones included (minutes on CPU)."""
    _install(session)
    session.run("python", "-m", "pytest", "-m", "slow or not slow", "tests/test_reproduction.py",
                *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "bge_eval", "tests", "benchmarks", "noxfile.py")


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: the bundled demo suite with all-MiniLM-L6-v2, offline."""
    _install(session)
    session.run("python", "-m", "bge_eval", "run", *session.posargs)

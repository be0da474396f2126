"""Task registries and suites as data (TOML). Installed as bge_eval._tasks."""

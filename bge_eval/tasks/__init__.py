"""Which tasks run and where their data comes from: registry files (registry), selection (selection),
local folders (local_data, hub_mirror), the bundled demo suite (demo), task-type groups (types)."""

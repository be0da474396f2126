"""Reports from saved results only: the data a report shows (data, leaderboard), its rendering
(render, plots) and the terminal tables (console)."""

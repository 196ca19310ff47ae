"""compare's report.html: the leaderboard, plots, provenance and a synced sequence browser in one page."""

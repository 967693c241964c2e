"""Developer tools: `python -m tools.invoke` runs a function locally."""

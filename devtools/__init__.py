"""Developer tools: the synthetic trial generator and the benchmark (issue #16).

Installed only when ``DEBUG`` or ``DEVTOOLS=1`` (liveradvance/settings.py), so production never
ships demo seeds or bench commands. No models: nothing here changes the schema.
"""

"""The pure domain: the model, typed events, the journal and its chain, the fleet lock,
the guards, the rollout plan and its judge, baselines, traffic, diffs, taint and
reports. Imports nothing from the rest of ``backends/``."""

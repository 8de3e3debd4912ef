"""leadscore: the Python side of the lead-scoring warehouse (CLI, loader, demo data, pipeline)."""

"""`leadscore`: the command line (commands.py: load, build, top, export, docs, bench...; analysis.py:
backtest, impact, calibrate, report). Every verb calls the same functions the Dagster definitions do."""

"""Getting data in: the raw files' loader (loader.py), the demo data generator (demo_data.py) and the raw
layer on PostgreSQL and Spark (engines.py)."""

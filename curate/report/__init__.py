"""The read side: what a run did, read from its workspace and never recomputed.

`views` opens a run's outputs and ledger rows as named, read-only DuckDB views; `query` runs one user
SELECT over them (`curate sql`); `inspect` shows documents with their signals, scores and decision in
the terminal (`curate inspect`), with `textdiff` laying two texts side by side. Nothing here imports stage
code (io, stages, dedup, quality, sweep, scaling) or the engine.
"""

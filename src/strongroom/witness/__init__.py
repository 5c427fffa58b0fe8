"""A witness of our own (`strongroom witness init` / `serve`), for deployments that have
none: C2SP tlog-witness over HTTP, cosigning the checkpoints of the logs it is told about,
from a home and with a key of its own.

state   the witness's home: config, key, the latest checkpoint per log (SQLite)
app     the HTTP interface: add-checkpoint, and reading back the latest cosigned checkpoint
"""

"""Executors: where the per-image producers run. `local`: worker processes on this machine;
`ray`: Ray actors (`--backend ray`). The inline one-worker run lives in generation/pipeline.py."""

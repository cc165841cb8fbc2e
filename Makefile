.PHONY: demo test lint bench lock
# The two set-up commands of the README. Both install into .venv/ from the lock files
# (uv.lock, requirements-uv.txt) via scripts/venv.sh, never into the system Python.
demo:
	bash scripts/venv.sh
	.venv/bin/evbill demo
test:
	bash scripts/test.sh
lint:
	bash scripts/venv.sh dev
	.venv/bin/python -m ruff check --no-cache connector tests bench scripts
	.venv/bin/python -m mypy
bench:
	bash scripts/venv.sh
	.venv/bin/python bench/rate_bench.py
# After changing dependencies in pyproject.toml: re-resolve uv.lock (keeps the other pins; commit it).
lock:
	bash scripts/venv.sh uv
	UV_SYSTEM_CERTS=true UV_PYTHON_DOWNLOADS=never .venv/bin/uv lock

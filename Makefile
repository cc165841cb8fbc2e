.PHONY: demo test lint bench
# The two set-up commands of the README.
demo:
	python3 -m pip install -q -e . && evbill demo
test:
	bash scripts/test.sh
lint:
	python3 -m ruff check --no-cache connector tests bench scripts
bench:
	python3 bench/rate_bench.py

# `make run`: venv, install, migrate, demo data, serve.   `make test`: venv, install, whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/partnerbot db upgrade
	$(BIN)/partnerbot demo
	@echo ""
	@echo "partnerbot is starting on http://$(HOST):$(PORT)"
	@echo "  chat with it in another terminal:  $(BIN)/partnerbot console --as alice   (member of P001)"
	@echo "      other demo users: boss (owner P001), bob (P002), carol (P003), mgr (manager 江苏), zmgr (浙江), root (admin)"
	@echo "  webhooks:  http://$(HOST):$(PORT)/wechat/callback   /wecom/callback   /telegram/webhook"
	@echo "  health:    http://$(HOST):$(PORT)/healthz   metrics: /metrics"
	@echo ""
	$(BIN)/partnerbot serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) partnerbot.db partnerbot.db-wal partnerbot.db-shm

# Two commands on a fresh machine: `make run` and `make test` (README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=
# make run is the embedded default: DEBUG off (the portal's own error pages), plain HTTP on
# this machine, development keys (portal/settings.py EMBEDDED).
RUN_ENV := EMBEDDED=1

.PHONY: run test setup venv browser lint format migrations-check ci clean totp worker beat bench
.PHONY: integration backup restore api-contract

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

# Debian's chromium and CJK fonts for the Playwright browser tests (root installs them).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "安装浏览器测试所需的 chromium 与 fonts-noto-cjk ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "浏览器测试需要 chromium 与 fonts-noto-cjk：请运行 sudo apt-get install -y chromium fonts-noto-cjk"; exit 1; fi; \
	fi

setup: venv
	@mkdir -p var/media
	@$(BIN)/python manage.py migrate --noinput -v0
	@$(BIN)/python manage.py load_calendar --year 2025 --year 2026 >/dev/null
	@$(BIN)/python manage.py load_demo >/dev/null

run: setup
	@$(RUN_ENV) $(BIN)/celery -A portal worker --beat --schedule var/celerybeat-schedule --pool solo --loglevel WARNING >var/worker.log 2>&1 & echo $$! >var/worker.pid; \
	trap 'kill $$(cat var/worker.pid) 2>/dev/null; rm -f var/worker.pid' EXIT INT TERM; \
	echo ""; \
	echo "  金融营销催收号码备案与比对平台 已启动： http://$(HOST):$(PORT)/"; \
	echo "  API 文档： http://$(HOST):$(PORT)/api/docs/    后台任务日志： var/worker.log"; \
	$(RUN_ENV) $(BIN)/python manage.py load_demo; \
	echo "  按 Ctrl+C 停止。"; echo ""; \
	$(RUN_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: venv browser
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# Production parts for real (tests/integration): gunicorn, two Celery workers on RabbitMQ,
# a fresh PostgreSQL database. Override DATABASE_URL / CELERY_BROKER_URL to point elsewhere.
INTEGRATION_DB     ?= postgres://postgres@127.0.0.1:5432/portal_integration
INTEGRATION_BROKER ?= amqp://guest:guest@127.0.0.1:5672//
integration: venv
	@PORTAL_INTEGRATION=1 DATABASE_URL=$(INTEGRATION_DB) CELERY_BROKER_URL=$(INTEGRATION_BROKER) \
	  CELERY_QUEUE=portal-integration $(BIN)/python -m pytest -q --create-db -p no:randomly tests/integration

# The API against its OpenAPI schema (schemathesis, every operation, every check) on a live
# server with the demo data, as each role and as two institutions (.ci/api-contract).
# API_CONTRACT_EXAMPLES bounds the examples per operation (default 12).
api-contract: venv
	@bash .ci/api-contract

totp: venv
	@$(RUN_ENV) $(BIN)/python manage.py demo_totp rita

lint: venv
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: venv
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

migrations-check: venv
	@$(BIN)/python manage.py makemigrations --check --dry-run

worker: venv
	@$(BIN)/celery -A portal worker --loglevel INFO

beat: venv
	@$(BIN)/celery -A portal beat --loglevel INFO --schedule var/celerybeat-schedule

# One backup file (database + media + manifest) into BACKUP_DIR (default var/backups).
backup: venv
	@$(BIN)/python manage.py backup $(if $(BACKUP_DIR),--dir "$(BACKUP_DIR)")

# Checks FILE completely, then replaces the database and media; verifies audit and counts.
restore: venv
	@if [ -z "$(FILE)" ]; then \
	  echo "请指定要恢复的备份文件：make restore FILE=var/backups/portal-YYYYMMDDTHHMMSSZ.tar"; \
	  exit 1; fi
	@$(BIN)/python manage.py restore "$(FILE)"

ci:
	@bash .ci/run

clean:
	rm -rf $(VENV) var

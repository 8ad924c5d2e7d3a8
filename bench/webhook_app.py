"""The baseline app of `python -m bench webhook`, served by uvicorn with `partnerbot serve`'s settings.

`GET /bare` answers a constant; `POST /commit` commits one row in one transaction through the runtime
`partnerbot serve` builds (same `make_engine` settings).

Run: `python -m bench.webhook_app --port P --db sqlite:///file.db`.
"""
from __future__ import annotations

import argparse
from contextlib import asynccontextmanager

from fastapi import FastAPI


def make_app(db_url: str) -> FastAPI:
    from bot.bootstrap import build_runtime
    from services.config import Settings
    from storage.models import AuditLog

    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = await build_runtime(Settings(database={"url": db_url}))
        state["rt"] = rt
        yield
        await rt.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/bare")
    async def bare() -> dict:
        return {"ok": True}

    @app.post("/commit")
    async def commit() -> dict:
        async with state["rt"].uow() as uow:
            row = AuditLog(at=uow.now(), action="bench", entity="bench", entity_id="")
            uow.add(row)
            await uow.commit()
        return {"id": row.id}

    return app


def main() -> None:
    import uvicorn

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True)
    a = p.parse_args()
    uvicorn.run(make_app(a.db), host="127.0.0.1", port=a.port, proxy_headers=True, log_level="info")


if __name__ == "__main__":
    main()

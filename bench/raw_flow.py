"""Raw Prefect: the benchmark workflow's five steps as a plain `@flow` with one `@task` per step."""

from __future__ import annotations

import httpx
from prefect import flow, get_run_logger, task


@task
def trigger(payload: dict) -> dict:
    return payload


@task
def check(payload: dict) -> bool:
    return payload["x"] > 3


@task
async def call(url: str, payload: dict) -> dict:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, json=payload)
    return {"status_code": response.status_code, "body": response.json()}


@task
def transform(payload: dict, answer: dict) -> dict:
    return {"name": payload["key"], "status": answer["status_code"]}


@task
def log_it(shaped: dict) -> dict:
    message = f"done {shaped['name']} {shaped['status']}"
    get_run_logger().info(message)
    return {"message": message}


@flow(name="raw-five-steps", persist_result=False)
async def raw_five_steps(url: str, payload: dict) -> dict:
    data = trigger(payload)
    if check(data):
        answer = await call(f"{url}/raw/{payload['key']}", data)
    else:
        answer = {"status_code": 0}
    return log_it(transform(data, answer))

"""boto3 for one fleet: a session and clients made on first use, botocore's ``standard``
retry mode set explicitly, every call run in a thread (boto3 is synchronous) and every
failure translated into Molt's errors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backends.aws.errors import translate
from backends.aws.settings import AwsSettings

T = TypeVar("T")
Response = dict[str, Any]


class AwsApi:
    """The AWS clients of one fleet. boto3 clients are thread-safe once made; making
    them (and the session) is not, hence the lock."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}

    @property
    def session(self) -> boto3.session.Session:
        """The boto3 session (standard credential chain, or ``profile``). Event hooks
        registered on ``session.events`` reach every client made afterwards."""
        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session(
                    profile_name=self.settings.profile, region_name=self.settings.region
                )
            return self._session

    def client(self, service: str) -> Any:
        session = self.session
        with self._lock:
            if service not in self._clients:
                retry = self.settings.retry
                config = Config(
                    retries={"mode": "standard", "total_max_attempts": retry.max_attempts},
                    connect_timeout=retry.connect_timeout,
                    read_timeout=retry.read_timeout,
                    user_agent_extra="molt",
                )
                self._clients[service] = session.client(
                    service, endpoint_url=self.settings.endpoint_url, config=config
                )
            return self._clients[service]

    def close(self) -> None:
        """Close the clients' connection pools; they are made again if used later."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    async def run(self, work: Callable[[], T], what: str) -> T:
        """Run blocking boto3 ``work`` in a thread; ``what`` names the resource in errors."""
        try:
            return await asyncio.to_thread(work)
        except (BotoCoreError, ClientError) as error:
            raise translate(error, what, self.settings.retry.max_attempts) from error

    async def call(self, service: str, operation: str, what: str, **params: Any) -> Response:
        """One API call, e.g. ``call("elbv2", "describe_listeners", "listener …", …)``."""

        def work() -> Response:
            response: Response = getattr(self.client(service), operation)(**params)
            return response

        return await self.run(work, what)

    async def pages(
        self, service: str, operation: str, key: str, what: str, **params: Any
    ) -> list[Response]:
        """Every item under ``key`` across a paginated operation's pages."""

        def work() -> list[Response]:
            paginator = self.client(service).get_paginator(operation)
            return [item for page in paginator.paginate(**params) for item in page.get(key, [])]

        return await self.run(work, what)

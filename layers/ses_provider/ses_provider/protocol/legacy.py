"""TEMPORARY: a module-based resource type seen through the contract, until every type is a
ResourceHandler class (issue 16's typed contract). Removed when the types are converted."""

from __future__ import annotations

from typing import Any

from ..contract import Done, Failed, Pending, ResourceHandler
from ..errors import ProviderError, ses_failure
from ..schema import InvalidProperty


class Legacy:
    def __init__(self, module: Any):
        self._module = module
        self.WAITS = "WaitFor" in module.TYPE.properties.fields

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def wait_seconds(self, props: dict) -> int:
        return int(props.get("VerificationTimeout") or 3600) if self.WAITS else 0

    def withhold(self, props: dict) -> dict:
        return getattr(self._module, "withhold", lambda given: given)(props)

    def is_complete(self, physical_id, props, old, data, client, request, wait):
        from .. import waiting

        if not self.WAITS:
            return Done(physical_id, dict(data or {}))
        if data is None:
            data = self._module.observe(physical_id, props, client, request)
        if waiting.holds(props, data):
            hook = getattr(self._module, "when_verified", None)
            extra: Any = {}
            if hook is not None:
                try:
                    extra = hook(physical_id, props, old, client, request) or {}
                except InvalidProperty as error:
                    return Failed(f"invalid property {error}", physical_id)
                except ProviderError as error:
                    return Failed(str(error), physical_id)
                except Exception as error:  # noqa: BLE001
                    return Failed(str(ses_failure(self._module, physical_id, request, error)), physical_id)
            return Done(physical_id, {**data, **extra})
        if wait.over:
            return Failed(waiting.pending_reason(physical_id, data, wait.seconds), physical_id)
        return Pending(physical_id, data)


def as_handler(resource: Any) -> Any:
    return resource if isinstance(resource, ResourceHandler) else Legacy(resource)

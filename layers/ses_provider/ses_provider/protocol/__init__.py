"""The CloudFormation protocol: one request from the event to its one answer.

delivery.py is the state machine (received → started → handed off → answered); journal entries,
the answer's body and PUT (response.py), the timer and the fence (timer.py), the clean-up of what
CloudFormation was never told of (cleanup.py) and the wait's queue (continuation.py) each live in
one place. Resource types (ses_provider.contract) sit below and never import it.

crhelper is not used: its request flow needed seven of its private methods overridden and
seventeen private fields set to get these rules, so any upgrade could break it silently.
"""

from .provider import Provider, make_handler

__all__ = ["Provider", "make_handler"]

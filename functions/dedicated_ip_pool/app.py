"""Lambda entry point for Custom::DedicatedIpPool: the logic lives in the ses_provider layer."""

from ses_provider import dedicated_ip_pool
from ses_provider.protocol import make_handler

handler = make_handler(dedicated_ip_pool)

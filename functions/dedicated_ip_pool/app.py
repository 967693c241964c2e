"""Lambda entry point for Custom::DedicatedIpPool: the logic lives in the ses_provider layer."""

from ses_provider.protocol import make_handler
from ses_provider.dedicated_ip_pool import DedicatedIpPool

handler = make_handler(DedicatedIpPool())

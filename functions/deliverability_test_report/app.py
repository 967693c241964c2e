"""Lambda entry point for Custom::DeliverabilityTestReport: the logic lives in the ses_provider layer."""

from ses_provider import deliverability_test_report
from ses_provider.protocol import make_handler

handler = make_handler(deliverability_test_report)

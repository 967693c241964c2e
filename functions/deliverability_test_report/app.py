"""Lambda entry point for Custom::DeliverabilityTestReport: the logic lives in the ses_provider layer."""

from ses_provider.protocol import make_handler
from ses_provider.deliverability_test_report import DeliverabilityTestReport

handler = make_handler(DeliverabilityTestReport())

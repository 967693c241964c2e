"""Lambda entry point for Custom::ConfigurationSetEventDestination: the logic lives in the ses_provider layer."""

from ses_provider import configuration_set_event_destination
from ses_provider.protocol import make_handler

handler = make_handler(configuration_set_event_destination)

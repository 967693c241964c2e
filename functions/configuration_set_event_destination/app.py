"""Lambda entry point for Custom::ConfigurationSetEventDestination: the logic lives in the ses_provider layer."""

from ses_provider.protocol import make_handler
from ses_provider.configuration_set_event_destination import ConfigurationSetEventDestination

handler = make_handler(ConfigurationSetEventDestination())

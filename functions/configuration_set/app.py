"""Lambda entry point for Custom::ConfigurationSet: the logic lives in the ses_provider layer."""

from ses_provider.protocol import make_handler
from ses_provider.configuration_set import ConfigurationSet

handler = make_handler(ConfigurationSet())

"""Lambda entry point for Custom::EmailIdentity: the logic lives in the ses_provider layer."""

from ses_provider import email_identity
from ses_provider.protocol import make_handler

handler = make_handler(email_identity)

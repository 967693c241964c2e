"""Lambda entry point for Custom::EmailIdentity: the logic lives in the ses_provider layer."""

from ses_provider.protocol import make_handler
from ses_provider.email_identity import EmailIdentity

handler = make_handler(EmailIdentity())

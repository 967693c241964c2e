"""Lambda entry point for TagSync: the logic lives in the ses_provider layer (tag_sync)."""

from ses_provider.tag_sync import make_handler

handler = make_handler()

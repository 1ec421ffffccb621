"""The office's mail account as the inbox and the outbox (`xlflow mail`): returns fetched
from it read-only, and forms, receipts and reminders sent through it."""

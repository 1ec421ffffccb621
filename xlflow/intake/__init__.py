"""Collect: what comes back, judged. The inbox scanned and containers opened (`intake`),
each file's task table found (`locate`), its form identified (`identify`), its values
checked (`validate`), the receipts written (`receipts`), the coordinator's decisions
(`decisions`), reminders for those missing (`remind`), and the console's upload (`upload`)."""

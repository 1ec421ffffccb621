"""Collect: what comes back, judged. The inbox scanned (`scan`) and containers opened
(`unpack`), each file's task table found (`locate`), its form identified (`identify`), its
values checked (`validate`), a verdict given (`judge`) and compared with the last
(`compare`), the step itself (`collect`), the receipts (`receipts`), the coordinator's
decisions (`decisions`) and extensions (`extensions`), reminders (`remind`), and the
console's upload (`upload`)."""

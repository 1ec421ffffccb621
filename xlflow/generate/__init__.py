"""Generate: one signed fill-in workbook per division (`forms`): what it holds (`specs`),
its look (`formats`), what its cells accept (`validations`), the flag sheet that makes
its cells check themselves as the division types (`flags`, from `selfcheck`), its
identity (`identity`), instructions (`instructions`) and sheets (`sheets`)."""

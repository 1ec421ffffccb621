"""The register of key tasks: read from a table or from numbered Word paragraphs
(`parse`, `paragraphs`), its layout recognised when nobody has described it (`detect`),
kept in the ledger once parsed (`load`), and a new working folder made around it (`init`)."""

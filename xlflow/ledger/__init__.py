"""The ledger (SQLite), a module per table family (`rounds`, `files`, `registers`,
`versions`, `extensions`, `decisions`) over one connection (`connection`), its tables in
`schema`, how things are stored in `codec`, readers that stay small in `readers`, and
`Ledger` (`book`), every family at once."""

"""The 汇总表: a module per sheet, in the order `book.SHEETS` names them, over the read
model (`figures`), the shared look (`look`) and the pass over the tasks (`passes`)."""

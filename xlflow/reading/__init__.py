"""Reading untrusted bytes, always inside a worker of the pool: a zip member's names
(`zipnames`), what reading gives and the problems it names (`workbook`), a file's type and
its package (`package`), an .xlsx's parts (`ooxml`), an .ods's content (`ods`), an .xls's
records (`biff`), the whole read with python-calamine (`reader`), and the mails and
archives returns arrive in (`containers`)."""

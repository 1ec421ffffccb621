"""Reading untrusted bytes: a returned workbook (type by content, zip and OLE checks, XML
safety, used range, values as stored, then python-calamine), the names inside a zip, and the
mails and archives returns arrive in. Everything here runs inside a worker of the pool."""

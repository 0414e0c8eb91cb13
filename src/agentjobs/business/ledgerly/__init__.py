"""Ledgerly: a second business schema, shaped like a real bookkeeping product's, on PostgreSQL.

Where the sample (business/schema.py) is shaped after the kinds, this one is shaped after a
product: uuid ids, workspaces with bank accounts in their own currencies (JPY and KWD among
them), signed amounts in minor units, `timestamptz`, OCR'd inbox documents with NULLs where OCR
failed, invoices with line items, incoming payments, link tables instead of link columns, and
personal data in customers. Its generator plants the same kinds of truths as the sample's, so
the business kinds can be proven on a schema they were not written against.
"""

"""Spreadsheets and JSON from partners: CSV, JSON and JSONL files of incidents or evaluation results.

The Data page and the CLI share one path, in four steps, so the analyst sees exactly what will be written:

1. `read_tabular(name, data)` decodes the bytes (UTF-8, UTF-8 with BOM, UTF-16, Latin-1/Windows-1252), parses
   them with the csv/json modules and enforces the size and row limits. Parsing is done in Python on purpose: the
   app's store is hardened (no file access from SQL), so DuckDB's read_csv is not available in the app.
2. `suggest_mapping` maps file columns to fields: the mapping saved for this source last time, else by name and
   common aliases. A file whose columns already use the field names needs no mapping at all.
3. `validate` converts every cell (dates in the common formats, list cells as "a; b" or JSON lists, vocabularies
   matched case-insensitively), applies markings (the file's, raised by the chosen default, never lowered) and
   lists every problem with its row and column. Nothing touches the store except a read of existing ids.
4. `commit` writes the valid rows in one transaction with the batch record and an audit entry. It refuses a plan
   with problems unless the analyst explicitly asked for the valid rows only; the rejected rows are then
   available as a table (`rejected_rows_frame`, downloaded as an escaped, audited CSV) with a column saying what was wrong with each.

`import_tabular` runs the four steps for the CLI and the inbox.

The modules, in the order a file passes through them (import each thing from the module that holds it):
  fields     the target tables, their fields, aliases and Arrow types
  read       bytes -> TabularFile (encodings, delimiter, JSON shapes, limits)
  mapping    file columns -> fields (saved per source, else by name)
  convert    one converter per field kind (shared with the STIX importer)
  plan       Problem and ImportPlan, what validation hands to the page and to commit
  validate   every cell checked, markings and origin applied, ids assigned; reads, never writes
  duplicates fresh ids and the visibility-scoped look-ups of ids and content already stored
  commit     the one transaction, and import_tabular for the CLI and the inbox
"""

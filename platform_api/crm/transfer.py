"""CSV import and export of contacts (docs/crm.md).

Import: the file is read whole (at most MAX_IMPORT_BYTES, MAX_IMPORT_ROWS rows; UTF-8 with or without a BOM,
or UTF-16 with a BOM), its columns mapped to contact fields by the caller, then written CHUNK rows per
transaction through crm.records.write (the one write path: each new or changed contact writes its outbox row,
so data-change triggers fire as for an API change). A row that cannot be written is rolled back alone (a
savepoint) and reported with its line, field and reason; the other rows are kept. Progress is streamed as
NDJSON, one line per chunk. A row with an email updates the contact with that email (create-or-update).

Export: the contacts of a list filter as CSV. A cell that a spreadsheet would run as a formula (it starts with
=, +, -, @, a tab or a carriage return) is prefixed with ' (OWASP, "CSV injection"); the import takes such a
' off again, so an exported file imports unchanged."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import records
from crm.records import CrmError
from platform_api.deps import Caller
from platform_api.problems import Problem
from store import CrmCompany, CrmContact

MAX_IMPORT_BYTES = 1_000_000  # under the API's default body limit (1 MiB) with room for the form around it
MAX_IMPORT_ROWS = 10_000
MAX_EXPORT_ROWS = 100_000
CHUNK = 100
PREVIEW_ROWS = 5
IMPORT_FIELDS = ("email", "first_name", "last_name", "phone", "company", "tags")
PROPERTY_PREFIX = "properties."
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_GUESSES = {
    "email": ("email", "e-mail", "email address", "mail"),
    "first_name": ("first name", "firstname", "first", "given name", "forename", "first_name"),
    "last_name": ("last name", "lastname", "last", "surname", "family name", "last_name"),
    "phone": ("phone", "phone number", "mobile", "telephone", "tel", "cell"),
    "company": ("company", "company name", "organisation", "organization", "account"),
    "tags": ("tags", "tag", "labels", "segments"),
}


def _refused(status: int, slug: str, detail: str, hint: str, path: str = "file") -> Problem:
    return Problem(
        status, slug, "CSV file refused", detail, hint=hint, errors=[{"path": path, "message": detail, "hint": hint}]
    )


def _decode(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise _refused(
            413,
            "payload-too-large",
            f"The file is larger than {MAX_IMPORT_BYTES:,} bytes.",
            f"Split it into files of at most {MAX_IMPORT_ROWS:,} rows and {MAX_IMPORT_BYTES:,} bytes each.",
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise _refused(
                422,
                "validation-error",
                f"The file is not UTF-8 text: line {line} has bytes that are not UTF-8.",
                "Save it as 'CSV UTF-8' (Excel: File > Save as > CSV UTF-8; Numbers and Google Sheets export UTF-8).",
            ) from None
    raise _refused(
        422,
        "validation-error",
        "The file is not a text CSV file.",
        "Export your contacts as CSV (comma-separated values).",
    )


def _rows(text: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """The delimiter and every row with the line it starts on; the header is the first."""
    try:
        delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((line, row))
                if len(rows) > MAX_IMPORT_ROWS + 1:
                    raise _refused(
                        413,
                        "payload-too-large",
                        f"The file has more than {MAX_IMPORT_ROWS:,} rows.",
                        f"Split it into files of at most {MAX_IMPORT_ROWS:,} rows.",
                    )
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _refused(
            422,
            "validation-error",
            f"Line {line} is not valid CSV: {exc}.",
            "Check its quotes (a quote inside a cell is doubled).",
        ) from None
    if not rows:
        raise _refused(
            422, "validation-error", "The file is empty.", "The first row names the columns; contacts follow."
        )
    return delimiter, rows


def read_csv(data: bytes) -> tuple[str, list[str], list[tuple[int, list[str]]]]:
    """The delimiter, the header and the data rows (line, cells) of an uploaded file; problems name the file."""
    delimiter, rows = _rows(_decode(data))
    (_, header), body = rows[0], rows[1:]
    return delimiter, [h.strip() for h in header], body


def _guess(header: str) -> str | None:
    def squeeze(text: str) -> str:
        return re.sub(r"[\s_\-]+", "", text.strip().lower())

    for field, names in _GUESSES.items():
        if squeeze(header) in {squeeze(n) for n in names}:
            return field
    return None


def preview(data: bytes) -> dict[str, Any]:
    delimiter, header, body = read_csv(data)
    return {
        "headers": header,
        "rows": [cells for _, cells in body[:PREVIEW_ROWS]],
        "total_rows": len(body),
        "delimiter": delimiter,
        "fields": list(IMPORT_FIELDS),
        "suggested": [_guess(h) for h in header],
    }


def check_mapping(raw: str, header: list[str]) -> list[str | None]:
    """The `columns` form field: a JSON list with one target per column (a field, properties.<name>, or null)."""

    def bad(detail: str, hint: str) -> Problem:
        return _refused(422, "validation-error", detail, hint, path="columns")

    try:
        columns = json.loads(raw)
    except ValueError:
        raise bad("columns is not JSON.", 'Send a JSON list such as ["email", "first_name", null].') from None
    if not isinstance(columns, list) or len(columns) != len(header):
        raise bad(
            f"columns must list one target per column of the file ({len(header)}).",
            "Use null for a column to skip.",
        )
    seen: set[str] = set()
    for index, target in enumerate(columns):
        if target is None:
            continue
        if not isinstance(target, str) or not (
            target in IMPORT_FIELDS
            or (target.startswith(PROPERTY_PREFIX) and 0 < len(target) - len(PROPERTY_PREFIX) <= 100)
        ):
            raise bad(
                f"column {index + 1} ({header[index]}): '{target}' is not a contact field.",
                f"Use one of {', '.join(IMPORT_FIELDS)}, properties.<name> or null.",
            )
        if target in seen:
            raise bad(f"'{target}' is mapped from two columns.", "Map each field from one column.")
        seen.add(target)
    if not seen & {"email", "first_name", "last_name", "phone"}:
        raise bad("No column is mapped to email, first name, last name or phone.", "Map at least one of them.")
    return columns


def _cell(value: str) -> str:
    value = value.strip()
    if value.startswith("'") and value[1:2] in FORMULA_START:  # written by our export (or by a careful person)
        return value[1:]
    return value


class _Importer:
    def __init__(self, db: Session, tenant_id: str, columns: list[str | None]) -> None:
        self.db, self.tenant_id, self.columns = db, tenant_id, columns
        self.companies: dict[str, str] = {}
        self.created = self.updated = 0

    def _company(self, name: str) -> str:
        key = name.lower()
        if key not in self.companies:
            found = self.db.scalar(
                select(CrmCompany.id)
                .where(CrmCompany.tenant_id == self.tenant_id, func.lower(CrmCompany.name) == key)
                .order_by(CrmCompany.created_at)
                .limit(1)
            )
            if found is None:
                company = records.write(
                    self.db, tenant_id=self.tenant_id, record_type="company", op="create", values={"name": name}
                )
                found = company.id
            self.companies[key] = found
        return self.companies[key]

    def _values(self, cells: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        properties: dict[str, str] = {}
        for target, raw in zip(self.columns, cells, strict=False):
            value = _cell(raw)
            if target is None or not value:
                continue
            if target.startswith(PROPERTY_PREFIX):
                properties[target.removeprefix(PROPERTY_PREFIX)] = value
            elif target == "tags":
                values["tags"] = [t for t in re.split(r"[;|,]", value) if t.strip()]
            elif target == "company":
                if len(value) > 200:
                    raise CrmError(422, "company name is longer than 200 characters", field="company")
                values["company_id"] = self._company(value)
            else:
                values[target] = value
        for name in ("first_name", "last_name"):
            if len(values.get(name, "")) > 100:
                raise CrmError(422, f"{name} is longer than 100 characters", field=name)
        if properties:
            values["properties"] = properties
        return values

    def row(self, cells: list[str]) -> None:
        values = self._values(cells)
        if not values:
            raise CrmError(422, "the row has no value in a mapped column", field="row")
        contact = None
        if values.get("email"):
            values["email"] = records.contact_email(values["email"])
            contact = records.find_contact(self.db, self.tenant_id, email=values["email"])
        if contact is not None and "properties" in values:  # add to the custom fields, never drop one
            values["properties"] = {
                **(records.snapshot(self.db, "contact", contact)["properties"]),
                **values["properties"],
            }
        records.write(
            self.db,
            tenant_id=self.tenant_id,
            record_type="contact",
            op="update" if contact else "create",
            record=contact,
            values=values,
        )
        if contact is None:
            self.created += 1
        else:
            self.updated += 1


def run_import(
    db: Session, *, caller: Caller, rows: list[tuple[int, list[str]]], columns: list[str | None]
) -> Iterator[str]:
    """Writes the rows CHUNK at a time (the caller checked the caller's role), one transaction each; yields an NDJSON progress line per chunk: how many
    rows are done, created, updated, and the errors of this chunk ({line, field, message, hint})."""
    importer = _Importer(db, caller.tenant_id, columns)
    failed = 0
    for start in range(0, len(rows), CHUNK):
        errors: list[dict[str, Any]] = []
        for line, cells in rows[start : start + CHUNK]:
            savepoint = db.begin_nested()
            try:
                importer.row(cells)
                savepoint.commit()
            except (CrmError, IntegrityError) as exc:
                savepoint.rollback()
                importer.companies.clear()  # a company created in the rolled-back savepoint is gone
                if isinstance(exc, IntegrityError):  # e.g. the same email written at once by another request
                    exc = CrmError(409, "another change to the same contact happened at once", hint="Import it again.")
                errors.append({"line": line, "field": exc.field or "row", "message": exc.message, "hint": exc.hint})
        db.commit()
        failed += len(errors)
        done = min(start + CHUNK, len(rows))
        yield (
            json.dumps(
                {
                    "processed": done,
                    "total": len(rows),
                    "created": importer.created,
                    "updated": importer.updated,
                    "failed": failed,
                    "errors": errors,
                    "done": done == len(rows),
                }
            )
            + "\n"
        )
    if not rows:
        yield (
            json.dumps(
                {"processed": 0, "total": 0, "created": 0, "updated": 0, "failed": 0, "errors": [], "done": True}
            )
            + "\n"
        )


# --- export -------------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("id", "email", "first_name", "last_name", "phone", "company", "tags", "created_at", "updated_at")


def safe_cell(value: Any) -> str:
    """A value as a CSV cell a spreadsheet will not run: formula starts get a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(db: Session, contacts: list[CrmContact], tenant_id: str) -> Iterator[str]:
    snapshots = [records.snapshot(db, "contact", c) for c in contacts]
    company_ids = {s["company_id"] for s in snapshots if s["company_id"]}
    rows = db.execute(
        select(CrmCompany.id, CrmCompany.name).where(CrmCompany.tenant_id == tenant_id, CrmCompany.id.in_(company_ids))
    )
    companies = {company_id: name for company_id, name in rows}
    properties = sorted({key for s in snapshots for key in (s["properties"] or {})})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*EXPORT_COLUMNS, *(PROPERTY_PREFIX + p for p in properties)])
    for index, s in enumerate(snapshots, 1):
        row = {**s, "company": companies.get(s["company_id"], ""), "tags": ";".join(s["tags"])}
        custom = [_property(s["properties"].get(p)) for p in properties]
        writer.writerow([safe_cell(v) for v in (*(row[c] for c in EXPORT_COLUMNS), *custom)])
        if index % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _property(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value

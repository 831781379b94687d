from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from platform_api.crm import schemas, service, transfer
from platform_api.deps import DB, CurrentCaller, wake_dispatcher_after_writes
from platform_api.pagination import Cursor
from platform_api.permissions import Allowed, Permission
from store import Role

router = APIRouter(prefix="/api/v1/crm", tags=["crm"], dependencies=[Depends(wake_dispatcher_after_writes)])
Limit = Annotated[int, Query(ge=1, le=service.MAX_PAGE)]
Offset = Annotated[int, Query(ge=0)]
TestData = Annotated[
    bool | None,
    Query(description="false: leave out what test runs wrote; true: only that; absent: both (flagged `test_data`)."),
]

# Emails and phone numbers are sealed at rest and found through blind indexes: exact match only.
ContactSearch = Annotated[
    str | None,
    Query(
        description="Contacts whose first or last name contains this text (case-insensitive), or whose email "
        "address or phone number is exactly this. Email and phone are exact-match only (after normalising: "
        "case and surrounding blanks for email, everything but '+' and digits for phone), never part of one: "
        "they are stored encrypted and searched through a keyed hash."
    ),
]
EmailFilter = Annotated[
    str | None,
    Query(description="Only the contact with exactly this email address (case-insensitive; no partial match)."),
]


def _runs(db, caller, record_type, record_id, limit, page: tuple[str | None, Request, Response]):
    cursor, request, response = page
    return service.record_runs(
        db,
        caller=caller,
        record_type=record_type,
        record_id=record_id,
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
    )


def _list(db, caller, record_type, q, limit, offset, page: tuple[str | None, Request, Response], **filters):
    """A page of records; the next page's cursor is in the X-Next-Cursor (and Link) header."""
    cursor, request, response = page
    return service.list_records(
        db,
        caller=caller,
        record_type=record_type,
        filters=filters,
        q=q,
        limit=limit,
        offset=offset,
        cursor=cursor,
        request=request,
        response=response,
    )


# --- contacts -----------------------------------------------------------------------------------


@router.post(
    "/contacts", status_code=201, response_model=schemas.ContactRead, dependencies=[Allowed(Permission.CREATE_EDIT)]
)
def create_contact(data: schemas.ContactCreate, db: DB, caller: CurrentCaller):
    return service.create(db, caller=caller, record_type="contact", data=data)


@router.post("/contacts/upsert", response_model=schemas.ContactRead, dependencies=[Allowed(Permission.CREATE_EDIT)])
def upsert_contact(data: schemas.ContactUpsert, db: DB, caller: CurrentCaller, response: Response):
    contact, created = service.upsert_contact(db, caller=caller, data=data)
    response.status_code = 201 if created else 200
    return contact


@router.get("/contacts", response_model=list[schemas.ContactRead])
def list_contacts(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    q: ContactSearch = None,
    email: EmailFilter = None,
    tag: str | None = None,
    company_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    test_data: TestData = None,
    cursor: Cursor = None,
):
    return _list(
        db,
        caller,
        "contact",
        q,
        limit,
        offset,
        (cursor, request, response),
        email=email,
        tag=tag,
        company_id=company_id,
        test_data=test_data,
    )


@router.get(
    "/contacts/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The contacts of the filter, as CSV."}},
)
def export_contacts(
    db: DB,
    caller: CurrentCaller,
    q: ContactSearch = None,
    email: EmailFilter = None,
    tag: str | None = None,
    company_id: str | None = None,
    test_data: TestData = None,
) -> StreamingResponse:
    """The contacts of the same filters as the list, as a CSV file (at most 100,000; cells a spreadsheet would
    run as a formula are prefixed with ')."""
    filters = {"email": email, "tag": tag, "company_id": company_id, "test_data": test_data}
    contacts = service.filtered_contacts(db, caller=caller, filters=filters, q=q, most=transfer.MAX_EXPORT_ROWS)
    return StreamingResponse(
        transfer.export_csv(db, contacts, caller.tenant_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


CsvFile = Annotated[UploadFile, File(description="A CSV file: UTF-8, a header row, at most 10,000 rows and 1 MB.")]


def _read(file: UploadFile) -> bytes:
    return file.file.read(transfer.MAX_IMPORT_BYTES + 1)


@router.post(
    "/contacts/import/preview", response_model=schemas.ImportPreview, dependencies=[Allowed(Permission.CREATE_EDIT)]
)
def preview_import(file: CsvFile, caller: CurrentCaller):
    """The mapping step: the file's header, first rows and a suggested column mapping. Nothing is written."""
    return transfer.preview(_read(file))


@router.post(
    "/contacts/import",
    response_class=StreamingResponse,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "One JSON line per 100 rows: processed, total, created, updated, failed, errors "
            "(line, field, message, hint) of those rows, done.",
        }
    },
)
def import_contacts(
    file: CsvFile,
    db: DB,
    caller: CurrentCaller,
    columns: Annotated[
        str, Form(description='JSON list, one target per column: a contact field, "properties.<name>" or null.')
    ],
) -> StreamingResponse:
    """Imports the file's rows as contacts (a row with a known email updates that contact). The file and the
    mapping are checked first (problem+json); then progress is streamed while chunks of rows are written."""
    _, header, rows = transfer.read_csv(_read(file))
    mapping = transfer.check_mapping(columns, header)
    caller.require(Role.EDITOR, "import contacts")
    return StreamingResponse(
        transfer.run_import(db, caller=caller, rows=rows, columns=mapping), media_type="application/x-ndjson"
    )


@router.get("/contacts/{contact_id}", response_model=schemas.ContactRead)
def read_contact(contact_id: str, db: DB, caller: CurrentCaller):
    return service.read(db, caller=caller, record_type="contact", record_id=contact_id)


@router.patch(
    "/contacts/{contact_id}", response_model=schemas.ContactRead, dependencies=[Allowed(Permission.CREATE_EDIT)]
)
def update_contact(contact_id: str, data: schemas.ContactUpdate, db: DB, caller: CurrentCaller):
    return service.update(db, caller=caller, record_type="contact", record_id=contact_id, data=data)


@router.delete("/contacts/{contact_id}", status_code=204, dependencies=[Allowed(Permission.CREATE_EDIT)])
def delete_contact(contact_id: str, db: DB, caller: CurrentCaller) -> Response:
    service.delete(db, caller=caller, record_type="contact", record_id=contact_id)
    return Response(status_code=204)


@router.get("/contacts/{contact_id}/runs", response_model=list[schemas.RecordRunRead])
def contact_runs(
    contact_id: str,
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """The runs that touched the contact, newest first: steps that wrote it, runs its changes started."""
    return _runs(db, caller, "contact", contact_id, limit, (cursor, request, response))


@router.post(
    "/contacts/{contact_id}/tags", response_model=schemas.ContactRead, dependencies=[Allowed(Permission.CREATE_EDIT)]
)
def add_tag(contact_id: str, data: schemas.TagCreate, db: DB, caller: CurrentCaller):
    return service.tag(db, caller=caller, contact_id=contact_id, name=data.name, add=True)


@router.delete(
    "/contacts/{contact_id}/tags/{name}",
    response_model=schemas.ContactRead,
    dependencies=[Allowed(Permission.CREATE_EDIT)],
)
def remove_tag(contact_id: str, name: str, db: DB, caller: CurrentCaller):
    return service.tag(db, caller=caller, contact_id=contact_id, name=name, add=False)


# --- companies ----------------------------------------------------------------------------------


@router.post(
    "/companies", status_code=201, response_model=schemas.CompanyRead, dependencies=[Allowed(Permission.CREATE_EDIT)]
)
def create_company(data: schemas.CompanyCreate, db: DB, caller: CurrentCaller):
    return service.create(db, caller=caller, record_type="company", data=data)


@router.get("/companies", response_model=list[schemas.CompanyRead])
def list_companies(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    q: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    test_data: TestData = None,
    cursor: Cursor = None,
):
    return _list(db, caller, "company", q, limit, offset, (cursor, request, response), test_data=test_data)


@router.get("/companies/{company_id}", response_model=schemas.CompanyRead)
def read_company(company_id: str, db: DB, caller: CurrentCaller):
    return service.read(db, caller=caller, record_type="company", record_id=company_id)


@router.patch(
    "/companies/{company_id}", response_model=schemas.CompanyRead, dependencies=[Allowed(Permission.CREATE_EDIT)]
)
def update_company(company_id: str, data: schemas.CompanyUpdate, db: DB, caller: CurrentCaller):
    return service.update(db, caller=caller, record_type="company", record_id=company_id, data=data)


@router.get("/companies/{company_id}/runs", response_model=list[schemas.RecordRunRead])
def company_runs(
    company_id: str,
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """The runs that touched the company, newest first."""
    return _runs(db, caller, "company", company_id, limit, (cursor, request, response))


@router.delete("/companies/{company_id}", status_code=204, dependencies=[Allowed(Permission.CREATE_EDIT)])
def delete_company(company_id: str, db: DB, caller: CurrentCaller) -> Response:
    service.delete(db, caller=caller, record_type="company", record_id=company_id)
    return Response(status_code=204)


# --- deals --------------------------------------------------------------------------------------


@router.get("/deal-stages", response_model=list[str])
def deal_stages(caller: CurrentCaller) -> list[str]:
    return list(get_args(schemas.Stage))


@router.post("/deals", status_code=201, response_model=schemas.DealRead, dependencies=[Allowed(Permission.CREATE_EDIT)])
def create_deal(data: schemas.DealCreate, db: DB, caller: CurrentCaller):
    return service.create(db, caller=caller, record_type="deal", data=data)


@router.get("/deals", response_model=list[schemas.DealRead])
def list_deals(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    q: str | None = None,
    stage: schemas.Stage | None = None,
    contact_id: str | None = None,
    company_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    test_data: TestData = None,
    cursor: Cursor = None,
):
    return _list(
        db,
        caller,
        "deal",
        q,
        limit,
        offset,
        (cursor, request, response),
        stage=stage,
        contact_id=contact_id,
        company_id=company_id,
        test_data=test_data,
    )


@router.get("/deals/{deal_id}", response_model=schemas.DealRead)
def read_deal(deal_id: str, db: DB, caller: CurrentCaller):
    return service.read(db, caller=caller, record_type="deal", record_id=deal_id)


@router.patch("/deals/{deal_id}", response_model=schemas.DealRead, dependencies=[Allowed(Permission.CREATE_EDIT)])
def update_deal(deal_id: str, data: schemas.DealUpdate, db: DB, caller: CurrentCaller):
    return service.update(db, caller=caller, record_type="deal", record_id=deal_id, data=data)


@router.get("/deals/{deal_id}/runs", response_model=list[schemas.RecordRunRead])
def deal_runs(
    deal_id: str,
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """The runs that touched the deal, newest first: steps that wrote it, runs its changes started."""
    return _runs(db, caller, "deal", deal_id, limit, (cursor, request, response))


@router.delete("/deals/{deal_id}", status_code=204, dependencies=[Allowed(Permission.CREATE_EDIT)])
def delete_deal(deal_id: str, db: DB, caller: CurrentCaller) -> Response:
    service.delete(db, caller=caller, record_type="deal", record_id=deal_id)
    return Response(status_code=204)


# --- activities ---------------------------------------------------------------------------------


@router.post(
    "/activities", status_code=201, response_model=schemas.ActivityRead, dependencies=[Allowed(Permission.CREATE_EDIT)]
)
def create_activity(data: schemas.ActivityCreate, db: DB, caller: CurrentCaller):
    return service.create(db, caller=caller, record_type="activity", data=data)


@router.get("/activities", response_model=list[schemas.ActivityRead])
def list_activities(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    contact_id: str | None = None,
    company_id: str | None = None,
    deal_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    test_data: TestData = None,
    cursor: Cursor = None,
):
    return _list(
        db,
        caller,
        "activity",
        None,
        limit,
        offset,
        (cursor, request, response),
        contact_id=contact_id,
        company_id=company_id,
        deal_id=deal_id,
        test_data=test_data,
    )

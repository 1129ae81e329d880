"""Per-source parsing rules: which JSON paths to read, what makes a line unloadable, what lands in raw.

Each source is data (a `SourceSpec`), and one SQL builder turns any spec into a single DuckDB query
over the decoded lines: every line is parsed once into a list of JSON values, classified by the
first failing check (docs/data-contracts.md, section 2) and projected onto its raw table's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMERIC_JSON = "('BIGINT', 'UBIGINT', 'DOUBLE')"
SEGMENT_TYPES = "('track', 'identify', 'page', 'screen', 'group', 'alias')"


def missing(x: str) -> str:
    """A required JSON value is absent, JSON null, or an empty string."""
    return f"({x} is null or json_type({x}) = 'NULL' or trim({x} ->> '$') = '')"


def text(x: str) -> str:
    """Text of a JSON string or number (null for JSON null)."""
    return f"(case when json_type({x}) = 'NULL' then null else {x} ->> '$' end)"


def not_object(x: str) -> str:
    """Present and not JSON null, but not an object."""
    return f"({x} is not null and json_type({x}) not in ('OBJECT', 'NULL'))"


def iso_ts(x: str) -> str:
    """An ISO-8601 string as a naive UTC timestamp (offsets honoured), null when unparseable."""
    return f"timezone('UTC', try_cast({text(x)} as timestamptz))"


@dataclass(frozen=True)
class Check:
    condition: str  # true means the line is bad
    reason: str  # SQL string expression: 'code: message'


@dataclass(frozen=True)
class SourceSpec:
    name: str
    table: str
    paths: dict[str, str]  # alias -> JSON path, read in one json_extract call
    derived: dict[str, str]  # alias -> SQL over the path aliases (typed values)
    checks: tuple[Check, ...]
    columns: tuple[str, ...]  # raw table columns, each a path or derived alias
    key: tuple[str, ...]  # dedupe key (raw columns)
    event_time: str  # derived alias checked for the future


def _r(code: str, message: str) -> str:
    return "'" + f"{code}: {message}".replace("'", "''") + "'"


def _future(alias: str) -> Check:
    return Check(
        f"{alias} > cast(_partition_day as timestamp) + interval 2 day",
        _r("future_timestamp", "more than 1 day after the end of its landing day: ")
        + f" || cast({alias} as varchar)",
    )


def _event_time_checks(alias: str, raw: str, problem: str) -> tuple[Check, Check]:
    """The event time must parse (bad_timestamp, quoting the raw JSON value ``raw``) and must not lie
    in the future: the last two checks of every source whose time is an ISO string."""
    return (
        Check(f"{alias} is null", _r("bad_timestamp", f"{problem}: ") + f" || coalesce({raw}, 'null')"),
        _future(alias),
    )


def _flat_source(
    name: str,
    table: str,
    columns: tuple[str, ...],
    *,
    typed: dict[str, str],
    required: tuple[str, ...],
    checks: tuple[Check, ...],
    key: tuple[str, ...],
    event_time: str,
) -> SourceSpec:
    """A flat webhook source (tickets, NPS): each raw column is the top-level field of the same name,
    read as ``j_<column>`` and kept as text unless ``typed`` gives its SQL. The checks run in the
    order every source uses: required fields, the source's own ``checks``, then the event time."""
    return SourceSpec(
        name=name,
        table=table,
        paths={f"j_{c}": f"$.{c}" for c in columns},
        derived={c: typed.get(c, text(f"j_{c}")) for c in columns},
        checks=(
            *(Check(missing(f"j_{c}"), _r("missing_field", c)) for c in required),
            *checks,
            *_event_time_checks(event_time, f"j_{event_time}", f"{event_time} is missing or unparseable"),
        ),
        columns=columns,
        key=key,
        event_time=event_time,
    )


SEGMENT = SourceSpec(
    name="segment",
    table="segment_events",
    paths={
        "j_message_id": "$.messageId",
        "j_type": "$.type",
        "j_event": "$.event",
        "j_name": "$.name",
        "j_user_id": "$.userId",
        "j_anonymous_id": "$.anonymousId",
        "j_timestamp": "$.timestamp",
        "j_original_ts": "$.originalTimestamp",
        "j_sent_at": "$.sentAt",
        "j_received_at": "$.receivedAt",
        "context": "$.context",
        "properties": "$.properties",
        "traits": "$.traits",
    },
    derived={
        "message_id": text("j_message_id"),
        "type": text("j_type"),
        "event": text("j_event"),
        "name": text("j_name"),
        "user_id": f"nullif({text('j_user_id')}, '')",
        "anonymous_id": f"nullif({text('j_anonymous_id')}, '')",
        "event_ts": iso_ts("j_timestamp"),
        "original_ts": iso_ts("j_original_ts"),
        "sent_at": iso_ts("j_sent_at"),
        "received_at": iso_ts("j_received_at"),
    },
    checks=(
        Check(missing("j_message_id"), _r("missing_field", "messageId")),
        Check(missing("j_type"), _r("missing_field", "type")),
        Check(
            f"{missing('j_user_id')} and {missing('j_anonymous_id')}",
            _r("missing_field", "userId and anonymousId are both absent"),
        ),
        Check(f"type = 'track' and {missing('j_event')}", _r("missing_field", "event (a track call)")),
        Check(
            f"json_type(j_type) <> 'VARCHAR' or type not in {SEGMENT_TYPES}",
            _r("wrong_type", "type must be one of track, identify, page, screen, group, alias"),
        ),
        Check(
            "j_event is not null and json_type(j_event) not in ('VARCHAR', 'NULL')",
            _r("wrong_type", "event must be a string"),
        ),
        Check(not_object("properties"), _r("wrong_type", "properties must be an object")),
        Check(not_object("traits"), _r("wrong_type", "traits must be an object")),
        Check(not_object("context"), _r("wrong_type", "context must be an object")),
        *_event_time_checks("event_ts", "j_timestamp", "timestamp is missing or not ISO-8601"),
    ),
    columns=(
        "message_id",
        "type",
        "event",
        "name",
        "user_id",
        "anonymous_id",
        "event_ts",
        "original_ts",
        "sent_at",
        "received_at",
        "context",
        "properties",
        "traits",
    ),
    key=("message_id",),
    event_time="event_ts",
)

MIXPANEL = SourceSpec(
    name="mixpanel",
    table="mixpanel_events",
    paths={
        "j_event": "$.event",
        "properties": "$.properties",
        "j_time": "$.properties.time",
        "j_distinct_id": "$.properties.distinct_id",
        "j_insert_id": '$.properties."$insert_id"',
        "j_processing": "$.properties.mp_processing_time_ms",
    },
    derived={
        "event": text("j_event"),
        "distinct_id": text("j_distinct_id"),
        "insert_id": f"nullif({text('j_insert_id')}, '')",
        # Mixpanel exports `time` in seconds, some pipelines in milliseconds: > 10^11 means ms.
        "time_ms": (
            f"case when json_type(j_time) in {NUMERIC_JSON} then cast(case "
            "when try_cast(j_time ->> '$' as double) > 1e11 then try_cast(j_time ->> '$' as double) "
            "else try_cast(j_time ->> '$' as double) * 1000 end as bigint) end"
        ),
        "event_ts": "make_timestamp(time_ms * 1000)",
        "mp_processing_time_ms": "try_cast(j_processing ->> '$' as bigint)",
    },
    checks=(
        Check(missing("j_event"), _r("missing_field", "event")),
        Check(not_object("properties"), _r("wrong_type", "properties must be an object")),
        Check(missing("j_distinct_id"), _r("missing_field", "properties.distinct_id")),
        Check(missing("j_time"), _r("missing_field", "properties.time")),
        Check("json_type(j_event) <> 'VARCHAR'", _r("wrong_type", "event must be a string")),
        Check(
            f"json_type(j_time) not in {NUMERIC_JSON}",
            _r("wrong_type", "properties.time must be a number (epoch seconds or ms)"),
        ),
        Check("time_ms is null or time_ms < 0", _r("bad_timestamp", "properties.time is out of range")),
        _future("event_ts"),
    ),
    columns=(
        "event",
        "distinct_id",
        "insert_id",
        "time_ms",
        "event_ts",
        "mp_processing_time_ms",
        "properties",
    ),
    key=("event", "distinct_id", "time_ms", "insert_id"),
    event_time="event_ts",
)

SIGNUPS = SourceSpec(
    name="signups",
    table="signups",
    paths={
        "j_provider": "$.provider",
        "j_user": "$.user",
        "j_a_user_id": "$.user.user_id",
        "j_a_email": "$.user.email",
        "j_a_name": "$.user.name",
        "j_a_created": "$.user.created_at",
        "j_a_meta": "$.user.user_metadata",
        "j_record": "$.record",
        "j_s_id": "$.record.id",
        "j_s_email": "$.record.email",
        "j_s_created": "$.record.created_at",
        "j_s_meta": "$.record.raw_user_meta_data",
        "j_s_name": "$.record.raw_user_meta_data.name",
        "j_f_uid": "$.uid",
        "j_f_email": "$.email",
        "j_f_name": "$.displayName",
        "j_f_created": "$.metadata.creationTime",
        "j_f_claims": "$.customClaims",
    },
    derived={
        "provider": (
            "case when j_provider ->> '$' = 'auth0' or json_type(j_user) = 'OBJECT' then 'auth0' "
            "when json_type(j_record) = 'OBJECT' then 'supabase' "
            "when j_f_uid is not null then 'firebase' end"
        ),
        "user_id": (
            f"nullif(case provider when 'auth0' then {text('j_a_user_id')} "
            f"when 'supabase' then {text('j_s_id')} when 'firebase' then {text('j_f_uid')} end, '')"
        ),
        "email": (
            f"case provider when 'auth0' then {text('j_a_email')} "
            f"when 'supabase' then {text('j_s_email')} else {text('j_f_email')} end"
        ),
        "name": (
            f"case provider when 'auth0' then {text('j_a_name')} "
            f"when 'supabase' then {text('j_s_name')} else {text('j_f_name')} end"
        ),
        "j_created": "case provider when 'auth0' then j_a_created when 'supabase' then j_s_created else j_f_created end",
        "created_at": (
            f"coalesce({iso_ts('j_created')}, try_strptime({text('j_created')}, '%a, %d %b %Y %H:%M:%S GMT'))"
        ),
        "metadata": "case provider when 'auth0' then j_a_meta when 'supabase' then j_s_meta else j_f_claims end",
        "payload": "try_cast(line as json)",
    },
    checks=(
        Check(
            "provider is null",
            _r("missing_field", "not an Auth0, Supabase or Firebase signup payload (no user)"),
        ),
        Check("user_id is null", _r("missing_field", "the user id")),
        Check(not_object("metadata"), _r("wrong_type", "the profile metadata must be an object")),
        *_event_time_checks("created_at", "j_created", "the signup time is missing or unparseable"),
    ),
    columns=("provider", "user_id", "email", "name", "created_at", "metadata", "payload"),
    key=("user_id",),
    event_time="created_at",
)

TICKETS = _flat_source(
    "tickets",
    "support_tickets",
    ("ticket_id", "user_id", "status", "occurred_at", "subject", "channel"),
    typed={"occurred_at": iso_ts("j_occurred_at")},
    required=("ticket_id", "user_id", "status"),
    checks=(
        Check(
            "json_type(j_status) <> 'VARCHAR' or status not in ('opened', 'resolved')",
            _r("wrong_type", "status must be opened or resolved"),
        ),
    ),
    key=("ticket_id", "status", "occurred_at"),  # a reopened ticket is a second 'opened' line
    event_time="occurred_at",
)

NPS = _flat_source(
    "nps",
    "nps_responses",
    ("response_id", "user_id", "survey", "score", "comment", "submitted_at"),
    typed={
        "score": "case when json_type(j_score) in ('BIGINT', 'UBIGINT') then try_cast(j_score ->> '$' as integer) end",
        "submitted_at": iso_ts("j_submitted_at"),
    },
    required=("response_id", "user_id", "score"),
    checks=(
        Check(
            "score is null or score < 0 or score > 10",
            _r("wrong_type", "score must be an integer from 0 to 10, got ") + " || j_score",
        ),
    ),
    key=("response_id",),
    event_time="submitted_at",
)

# Typeform webhooks (`typeform/`): one `form_response` delivery per line, any form (the stakeholder
# map, the day-30 survey, ...). Dedupe by (form_id, token): Typeform retries a delivery, and one
# response's token is unique within its form (docs/data-contracts.md, section 1).
TYPEFORM = SourceSpec(
    name="typeform",
    table="typeform_responses",
    paths={
        "j_event_id": "$.event_id",
        "j_event_type": "$.event_type",
        "j_form_response": "$.form_response",
        "j_form_id": "$.form_response.form_id",
        "j_token": "$.form_response.token",
        "j_submitted_at": "$.form_response.submitted_at",
        "j_landed_at": "$.form_response.landed_at",
        "hidden": "$.form_response.hidden",
        "answers": "$.form_response.answers",
        "definition": "$.form_response.definition",
    },
    derived={
        "event_id": text("j_event_id"),
        "event_type": text("j_event_type"),
        "form_id": text("j_form_id"),
        "token": text("j_token"),
        "submitted_at": iso_ts("j_submitted_at"),
        "landed_at": iso_ts("j_landed_at"),
    },
    checks=(
        Check(missing("j_event_id"), _r("missing_field", "event_id")),
        Check(missing("j_event_type"), _r("missing_field", "event_type")),
        Check(
            "j_form_response is null or json_type(j_form_response) <> 'OBJECT'",
            _r("missing_field", "form_response (an object)"),
        ),
        Check(missing("j_form_id"), _r("missing_field", "form_response.form_id")),
        Check(missing("j_token"), _r("missing_field", "form_response.token")),
        Check(
            "json_type(j_event_type) <> 'VARCHAR' or event_type <> 'form_response'",
            _r("wrong_type", "event_type must be form_response (a complete submission), got ")
            + " || coalesce(j_event_type, 'null')",
        ),
        Check(
            "answers is not null and json_type(answers) not in ('ARRAY', 'NULL')",
            _r("wrong_type", "form_response.answers must be an array"),
        ),
        Check(not_object("hidden"), _r("wrong_type", "form_response.hidden must be an object")),
        *_event_time_checks(
            "submitted_at", "j_submitted_at", "form_response.submitted_at is missing or not ISO-8601"
        ),
    ),
    columns=(
        "event_id",
        "event_type",
        "form_id",
        "token",
        "submitted_at",
        "landed_at",
        "hidden",
        "answers",
        "definition",
    ),
    key=("form_id", "token"),
    event_time="submitted_at",
)

SPECS: dict[str, SourceSpec] = {
    "segment": SEGMENT,
    "rudderstack": SEGMENT,
    "mixpanel": MIXPANEL,
    "signups": SIGNUPS,
    "tickets": TICKETS,
    "nps": NPS,
    "typeform": TYPEFORM,
}


# The columns of `lines_in` that every stage of the query passes through unchanged.
_CARRIED = ("_item", "_source", "_partition_day", "_file", "_line", "line")


def classify_sql(spec: SourceSpec, max_line_bytes: int) -> str:
    """One query over `lines_in(_file, _line, line)` giving every line its columns and its reason.

    `lines_in` also carries `_item`, `_source` and `_partition_day` (the landing day, for the
    future-timestamp check), passed through to the result. The JSON is parsed once per line: the paths are read
    together into a list, and every later expression works on those small values.
    """
    aliases = list(spec.paths)
    path_list = ", ".join("'" + spec.paths[a].replace("'", "''") + "'" for a in aliases)
    picks = ",\n        ".join(f"v[{i}] as {a}" for i, a in enumerate(aliases, start=1))
    derived = "".join(
        f",\nd{i} as (select *, {expr} as {alias} from d{i - 1})"
        for i, (alias, expr) in enumerate(spec.derived.items(), start=1)
    )
    last = f"d{len(spec.derived)}"
    checks = "\n            ".join(f"when {c.condition} then {c.reason}" for c in spec.checks)
    carried = ",\n        ".join(_CARRIED)
    return f"""
with shaped as (
    select
        {carried},
        case
            when strlen(line) > {max_line_bytes}
                then 'oversized: the line is ' || strlen(line) || ' bytes (limit {max_line_bytes})'
            when not json_valid(line) then 'invalid_json: not parseable JSON'
            -- valid JSON starting with a brace is an object: no third parse of every line
            when not starts_with(ltrim(line, ' ' || chr(9) || chr(13)), '{{')
                then 'not_an_object: the JSON value is ' || lower(json_type(line)) || ', not an object'
        end as shape_reason
    from lines_in
),
d0 as (
    select
        {carried},
        shape_reason,
        {picks}
    from (
        select *, case when shape_reason is null then json_extract(line, [{path_list}]) end as v
        from shaped
    )
){derived}
select
    *,
    coalesce(
        shape_reason,
        case
            {checks}
        end
    ) as reason
from {last}
"""

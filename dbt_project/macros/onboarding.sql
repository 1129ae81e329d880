{#- Small helpers for the onboarding decision models. Everything expands to dbt cross-database macros or
    ANSI SQL so the models can move to Spark. -#}

{#- The end of as-of day D: decisions for D see only events with event_at < D + 1 day. -#}
{% macro as_of_end(date_column) -%}
    cast({{ dbt.dateadd('day', 1, date_column) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- Whole calendar days from one date to a later one. -#}
{% macro days_between(from_date, to_date) -%}
    {{ dbt.datediff(from_date, to_date, 'day') }}
{%- endmacro %}


{#- Seconds (with microseconds) from one timestamp to a later one. -#}
{% macro seconds_between(from_ts, to_ts) -%}
    ({{ dbt.datediff(from_ts, to_ts, 'microsecond') }} / 1000000.0)
{%- endmacro %}


{#- Fill {{ '{{' }}placeholder}}s of a template column: values maps placeholder -> SQL expression. Missing values
    render as ''; placeholders not in `values` (e.g. {{ '{{' }}booking_link}}) are left for the sync.
    With `channel` (a column naming each row's destination), every value is escaped for that destination as
    it goes in (escape_for_channel): names, companies and event properties are typed by anyone, so an
    Intercom body gets them as HTML text and an Appcues or Calendly body as JSON string content. Placeholders
    in `url_keys` are link targets: in HTML only a plain http(s) URL survives (safe_url_html). Without
    `channel` nothing is escaped (track reasons; Slack alert text, which the Slack adapter escapes). -#}
{% macro render_template(template, values, channel=none, url_keys=[]) -%}
    {%- set ns = namespace(sql=template) -%}
    {%- for key, expr in values.items() -%}
        {%- set value = "coalesce(cast(" ~ expr ~ " as " ~ dbt.type_string() ~ "), '')" -%}
        {%- if channel is not none -%}
            {%- set value = escape_for_channel(channel, value, 'url' if key in url_keys else 'text') -%}
        {%- endif -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", '{{" ~ key ~ "}}', " ~ value ~ ")" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}


{#- The channels whose bodies Intercom renders as HTML, and those whose bodies are JSON objects. -#}
{% macro html_channels() -%}
    ('intercom_in_app', 'intercom_email')
{%- endmacro %}

{% macro json_channels() -%}
    ('appcues', 'calendly')
{%- endmacro %}


{#- A value escaped for the destination of its row (see render_template). kind: 'text' or 'url'. -#}
{% macro escape_for_channel(channel, expr, kind='text') -%}
    case
        when {{ channel }} in {{ html_channels() }}
            then {{ safe_url_html(expr) if kind == 'url' else escape_html(expr) }}
        when {{ channel }} in {{ json_channels() }} then {{ escape_json_string(expr) }}
        when {{ channel }} = 'slack' then {{ escape_mrkdwn(expr) }}
        else {{ expr }}
    end
{%- endmacro %}


{#- Text as an HTML text node or attribute value: & < > " ' escaped and, unless braces=false, the braces too,
    so a value can never spell a placeholder a later step fills (as html_text in sync/escaping.py). -#}
{% macro escape_html(expr, braces=true) -%}
    {% if braces %}replace(replace({% endif -%}
    replace(replace(replace(replace(replace({{ expr }}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;')
    {%- if braces %}, '{', '&#123;'), '}', '&#125;'){% endif %}
{%- endmacro %}


{#- A link target for an href: a plain http(s) URL (no space, quote, angle bracket, backquote, backslash or
    brace), HTML-escaped; anything else (javascript:, data:, a broken value) becomes ''. -#}
{% macro safe_url_html(expr) -%}
    case
        when
            (lower({{ expr }}) like 'https://_%' or lower({{ expr }}) like 'http://_%')
            {%- for bad in [' ', '"', "''", '<', '>', '`', '\\', '{', '}'] %}
                and position('{{ bad }}' in {{ expr }}) = 0
            {%- endfor %}
            then {{ escape_html(expr) }}
        else ''
    end
{%- endmacro %}


{#- Text as the content of a JSON string: backslash, quote and line breaks escaped. -#}
{% macro escape_json_string(expr) -%}
    replace(replace(replace(replace(replace({{ expr }}, '\', '\\'), '"', '\"'), chr(10), '\n'), chr(13), '\r'), chr(9), '\t')
{%- endmacro %}


{#- Slack mrkdwn's own escaping, & < > in that order (the Slack adapter also defangs URLs: sync/escaping.py). -#}
{% macro escape_mrkdwn(expr) -%}
    replace(replace(replace({{ expr }}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')
{%- endmacro %}


{#- A template in the seed's plain text with Markdown links, as an HTML body for Intercom: its text escaped,
    [label](target) as <a href="target">label</a>, blank lines as paragraphs, line breaks as <br>. Applied to
    the template before the values go in, so no value can add a link or a tag. -#}
{% macro template_as_html(template) -%}
    {%- set pattern -%}'\[([^\]\[]+)\]\(([^()\s]+)\)'{%- endset -%}
    {%- set replacement -%}'<a href="\2">\1</a>'{%- endset -%}
    {%- set linked = regexp_replace_all(escape_html(template, braces=false), pattern, replacement) -%}
    {%- set paragraphs = "replace(replace(replace(" ~ linked ~ ", chr(13), ''), "
        ~ dbt.concat(["chr(10)", "chr(10)"]) ~ ", '</p><p>'), chr(10), '<br>')" -%}
    {{ dbt.concat(["'<p>'", paragraphs, "'</p>'"]) }}
{%- endmacro %}


{#- A link whose target safe_url_html emptied (javascript:, data:, a broken value) as its label alone: a
    reader sees the words, not a link that goes nowhere. Labels come from the template (escaped text). -#}
{% macro unlink_empty_links(expr) -%}
    {%- set pattern -%}'<a href="">([^<]*)</a>'{%- endset -%}
    {{ regexp_replace_all(expr, pattern, "'\\1'") }}
{%- endmacro %}


{#- Every match of a regular expression replaced (groups as \1, \2); dbt has no cross-database macro for it. -#}
{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'onboarding')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ pattern }}, replace({{ replacement }}, '\', '$'))
{%- endmacro %}


{#- A JSON object text from optional members: members is a list of (condition_sql, key, value_sql) and only
    members whose condition holds are written, in order. Built with concat/substr so it ports. -#}
{% macro json_object_when(members) -%}
    {%- set parts = [] -%}
    {%- for condition, key, value in members -%}
        {%- do parts.append("case when " ~ condition ~ " then " ~ dbt.concat(["', \"" ~ key ~ "\": '", "cast(" ~ value ~ " as " ~ dbt.type_string() ~ ")"]) ~ " else '' end") -%}
    {%- endfor -%}
    {{ dbt.concat(["'{'", "substr(" ~ dbt.concat(parts) ~ ", 3)", "'}'"]) }}
{%- endmacro %}


{#- Normalise a free-text role for the role-group lookup: lower case, spaces and hyphens as underscores. -#}
{% macro normalize_role(column) -%}
    lower(replace(replace(trim({{ column }}), ' ', '_'), '-', '_'))
{%- endmacro %}


{#- A JSON string literal member value (the caller guarantees the text needs no escaping: ids from seeds). -#}
{% macro json_quote(expr) -%}
    {{ dbt.concat(["'\"'", expr, "'\"'"]) }}
{%- endmacro %}


{#- An expression as text (for reasons and template values). -#}
{% macro as_text(expr) -%}
    cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}


{#- A double-precision float (dbt.type_float() is single precision on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'onboarding')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}

{#- The sync's idempotency key of a message situation: md5(trigger | user_id | discriminator). -#}
{% macro message_key(trigger, user_id, discriminator) -%}
    {{ dbt.hash(dbt.concat([trigger, "'|'", user_id, "'|'", discriminator])) }}
{%- endmacro %}


{#- The larger / smaller of two values, either of which may be null (then the other one). Written out
    because greatest() and least() treat nulls differently across databases. -#}
{% macro greatest_of(a, b) -%}
    case when {{ a }} is null or {{ b }} > {{ a }} then {{ b }} else {{ a }} end
{%- endmacro %}

{% macro least_of(a, b) -%}
    case when {{ a }} is null or {{ b }} < {{ a }} then {{ b }} else {{ a }} end
{%- endmacro %}

{{ config(materialized='view') }}

{#- Message situations of the enterprise stakeholder map (issue 19 item 3), in the shape of
    int_messages__situations' families plus their own values (form_link, team_progress):
    - stakeholder_map_invite: an enterprise primary contact (plan enterprise, not named by another
      account) on day send_day of seed onboarding_forms (stakeholder_map), with the form link carrying
      their user id as Typeform's hidden field (`#user_id=`); once per user.
    - team_progress_weekly: every team_progress_every_days days after the day the account first named a
      colleague, while the primary contact has decided days: every member's stage and score of that day
      (a colleague not signed up yet says so). Discriminator: the day. -#}

with

history as (

    select user_id, as_of_date, day_number, plan, signed_up_at from {{ ref('user_onboarding_daily') }}

),

forms as (

    select * from {{ ref('onboarding_forms') }}
    where form_key = 'stakeholder_map'

),

stakeholders as (

    select * from {{ ref('int_stakeholders__map') }}

),

named_users as (

    select distinct stakeholder_user_id as user_id from stakeholders
    where stakeholder_user_id is not null

),

invites as (

    select
        'stakeholder_map_invite' as trigger,
        history.user_id,
        '' as discriminator,
        history.as_of_date,
        {{ dbt.dateadd('day', 'forms.send_day', 'history.signed_up_at') }} as due_at,
        {{ dbt.concat([
            "'enterprise primary contact, day '",
            'cast(forms.send_day as ' ~ dbt.type_string() ~ ')',
            "': stakeholder map form'",
        ]) }} as reason,
        {{ dbt.concat(['forms.form_url', "'#user_id='", "replace(history.user_id, '|', '%7C')"]) }} as form_link,
        cast(null as {{ dbt.type_string() }}) as team_progress
    from history
    cross join forms
    left join named_users on history.user_id = named_users.user_id
    where
        history.plan = 'enterprise'
        and history.day_number = forms.send_day
        and named_users.user_id is null

),

accounts as (

    select
        account_id,
        min(cast(named_at as date)) as first_named_on
    from stakeholders
    group by account_id

),

report_days as (

    select
        history.user_id as account_id,
        history.as_of_date,
        history.day_number,
        history.signed_up_at
    from history
    inner join accounts
        on
            history.user_id = accounts.account_id
            and history.as_of_date > accounts.first_named_on
    where
        {{ dbt.datediff('accounts.first_named_on', 'history.as_of_date', 'day') }}
        % {{ var('team_progress_every_days') }} = 0

),

member_lines as (

    select
        report_days.account_id,
        report_days.as_of_date,
        stakeholders.stakeholder_name,
        {{ dbt.concat([
            "coalesce(stakeholders.stakeholder_name, 'a colleague')",
            "' ('", "coalesce(stakeholders.stakeholder_role, 'no role given')", "'): '",
            "case when member_days.user_id is null then 'not signed up yet' else "
            ~ dbt.concat(["member_days.onboarding_stage", "', score '",
                          "cast(member_days.onboarding_score as " ~ dbt.type_string() ~ ")"]) ~ " end",
        ]) }} as member_line
    from report_days
    inner join stakeholders
        on
            report_days.account_id = stakeholders.account_id
            and cast(stakeholders.named_at as date) < report_days.as_of_date
    left join {{ ref('user_onboarding_daily') }} as member_days
        on
            stakeholders.stakeholder_user_id = member_days.user_id
            and report_days.as_of_date = member_days.as_of_date

),

weekly as (

    select
        'team_progress_weekly' as trigger,
        report_days.account_id as user_id,
        cast(report_days.as_of_date as {{ dbt.type_string() }}) as discriminator,
        report_days.as_of_date,
        {{ dbt.dateadd('day', 'report_days.day_number', 'report_days.signed_up_at') }} as due_at,
        {{ dbt.concat(["'team progress every '", "'" ~ var('team_progress_every_days') ~ "'",
                       "' days: '", 'cast(count(*) as ' ~ dbt.type_string() ~ ')', "' colleagues'"]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as form_link,
        {{ dbt.listagg('member_lines.member_line', "'; '", 'order by member_lines.member_line') }} as team_progress
    from report_days
    inner join member_lines
        on
            report_days.account_id = member_lines.account_id
            and report_days.as_of_date = member_lines.as_of_date
    group by report_days.account_id, report_days.as_of_date, report_days.day_number, report_days.signed_up_at

),

final as (

    select * from invites
    union all
    select * from weekly

)

select * from final

-- What the CRM has been told, as a log: one row per lead and build in which a field the CRM receives
-- changed (crm_fields below: the one list of them), or the lead was scored for the first time. Each build
-- that logs anything logs it under the next change_batch (1, 2, ...), the cursor an export or a reverse-ETL
-- tool reads past. Append-only on every engine (Parquet tables on Spark cannot update) and never rebuilt
-- (full_refresh: false): rebuilding it would make every lead look new. No personal data: the email is joined
-- from lead_scores by crm_score_changes, so turning expose_personal_data off removes it everywhere.
-- The top reasons travel with a change; they are not compared (a rule swap that leaves the score, tier,
-- grade, MQL flag and stage as they were is not a change the CRM needs).
{%- set crm_fields = ['score', 'tier', 'grade_cell', 'is_mql', 'suggested_lifecycle_stage'] %}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        full_refresh=false
    )
}}

with

scores as (

    select
        lead_id,
        cast(score_total as decimal(18, 2)) as score,
        tier,
        grade_cell,
        is_mql,
        suggested_lifecycle_stage,
        as_of_date,
        build_id,
        scoring_version
    from {{ ref('lead_scores') }}

),

{% if is_incremental() %}

logged as (

    select
        *,
        row_number() over (partition by lead_id order by change_batch desc) as recency
    from {{ this }}

),

previous as (

    select * from logged
    where recency = 1

),

batch as (

    select coalesce(max(change_batch), 0) + 1 as change_batch from {{ this }}

),

changed as (

    select
        scores.*,
        case when previous.lead_id is null then 'new' else 'changed' end as change_type,
        -- ',score,tier' -> 'score,tier'; null for a new lead
        nullif(substr(
            {%- for field in crm_fields %}
                case
                    when previous.lead_id is not null and scores.{{ field }} is distinct from previous.{{ field }}
                        then ',{{ field }}'
                    else ''
                end{{ ' ||' if not loop.last }}
            {%- endfor %},
            2
        ), '') as changed_fields
    from scores
    left join previous on scores.lead_id = previous.lead_id
    where
        previous.lead_id is null
        {%- for field in crm_fields %}
            or scores.{{ field }} is distinct from previous.{{ field }}
        {%- endfor %}

),

{% else %}

batch as (

    select 1 as change_batch

),

changed as (

    select
        *,
        'new' as change_type,
        cast(null as {{ dbt.type_string() }}) as changed_fields
    from scores

),

{% endif %}

-- The counted rules that moved a changed lead's total most (ties: the rule's id), best first.
reasons_ranked as (

    select
        breakdown.lead_id,
        breakdown.rule_type || ': ' || breakdown.rule_key || ' ('
        || case when breakdown.score_points > 0 then '+' else '' end
        || cast(cast(breakdown.score_points as decimal(18, 2)) as {{ dbt.type_string() }}) || ')' as reason,
        row_number() over (
            partition by breakdown.lead_id
            order by abs(breakdown.score_points) desc, breakdown.breakdown_id
        ) as reason_rank
    from {{ ref('lead_score_breakdown') }} as breakdown
    inner join changed on breakdown.lead_id = changed.lead_id
    where breakdown.is_counted_in_total and breakdown.score_points <> 0

),

reasons as (

    select
        lead_id,
        max(case when reason_rank = 1 then reason end)
        || coalesce('; ' || max(case when reason_rank = 2 then reason end), '')
        || coalesce('; ' || max(case when reason_rank = 3 then reason end), '') as top_reasons
    from reasons_ranked
    where reason_rank <= 3
    group by lead_id

),

final as (

    select
        -- Text columns cast to the contract's varchar: PostgreSQL types a concatenation or a literal as text,
        -- and an incremental run whose column types differ from the table's fails (on_schema_change).
        cast(
            changed.lead_id || ':' || cast(batch.change_batch as {{ dbt.type_string() }})
            as {{ type_varchar() }}
        ) as crm_score_change_log_id,
        changed.lead_id,
        cast(batch.change_batch as integer) as change_batch,
        cast(changed.change_type as {{ type_varchar() }}) as change_type,
        cast(changed.changed_fields as {{ type_varchar() }}) as changed_fields,
        changed.score,
        changed.tier,
        changed.grade_cell,
        changed.is_mql,
        changed.suggested_lifecycle_stage,
        cast(reasons.top_reasons as {{ type_varchar() }}) as top_reasons,
        changed.as_of_date,
        changed.build_id,
        changed.scoring_version,
        {{ run_started_at_timestamp() }} as logged_at
    from changed
    cross join batch
    left join reasons on changed.lead_id = reasons.lead_id

)

select * from final

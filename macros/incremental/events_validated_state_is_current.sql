{#-
    int_events_validated may be carried forward when every raw event row it validated is still there
    (as many staged rows loaded up to its last load as it holds rows), the raw leads were only appended to
    since (the rows loaded up to its last lead load are still all there, so no accepted lead was lost), and
    the event types of engagement_event_points and the country names that decided which leads are accepted are
    the ones it checked against (events_validation_key; rules added to or removed from a known type change
    nothing it decided).
-#}
{% macro events_validated_state_is_current() %}
    {% set sql %}
        with

        state as (

            select
                max(loaded_at) as events_loaded_through,
                count(*) as events_row_count,
                max(leads_loaded_through) as leads_loaded_through,
                max(leads_row_count) as leads_row_count,
                min(event_types_key) as event_types_key,
                count(distinct event_types_key) as event_types_key_count
            from {{ this }}
            where validated_at = (select max(latest.validated_at) from {{ this }} as latest)

        ),

        processed as (

            select
                {{ validated_rows_still_loaded(ref('stg_raw__events')) }} as has_every_validated_event,
                (
                    select count(*) from {{ ref('int_leads_validated') }} as leads
                    where leads.loaded_at <= (select state.leads_loaded_through from state)
                ) as raw_leads_row_count

        )

        select
            processed.has_every_validated_event
            and processed.raw_leads_row_count = state.leads_row_count
            and state.event_types_key_count = 1
            and state.event_types_key = {{ events_validation_key() }}
            as is_current
        from processed
        cross join state
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}

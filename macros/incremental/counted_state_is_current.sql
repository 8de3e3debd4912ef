{#-
    int_lead_event_days_counted may be carried forward when the negative rules still count the same event
    types and int_events_validated still holds the rows it counted (it was not rebuilt).
-#}
{% macro counted_state_is_current() %}
    {% set sql %}
        with

        state as (

            select
                max(validated_through) as validated_through,
                min(counted_types_key) as counted_types_key,
                count(distinct counted_types_key) as counted_types_key_count,
                count(*) as row_count
            from {{ this }}

        )

        select
            state.row_count > 0
            and state.counted_types_key_count = 1
            and state.counted_types_key = {{ seed_state_key(ref("negative_rules"), ["rule_type", "match_value"]) }}
            and (
                select min(validated.validated_at) from {{ ref('int_events_validated') }} as validated
            ) <= state.validated_through
            as is_current
        from state
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}

{#-
    int_lead_event_types_decayed may be carried forward when it holds the state of this version (one row per
    lead and event rule, with rules_key), the as-of date did not move back, the columns of
    engagement_event_points that decide which rule takes an event and what it is worth are the ones its sums
    were made with (decayed_rules_key), and int_events_validated still holds the rows it summed (it was not
    rebuilt: some of its rows were validated before this state was made).
-#}
{% macro decayed_state_is_current() %}
    {% set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {% if 'rules_key' not in columns or 'event_rule' not in columns %}
        {{ return(false) }}
    {% endif %}
    {% set sql %}
        with

        state as (

            select
                max(decayed_at) as decayed_at,
                max(validated_through) as validated_through,
                min(rules_key) as rules_key,
                count(distinct rules_key) as rules_key_count,
                count(*) as row_count
            from {{ this }}

        )

        select
            state.row_count > 0
            and state.decayed_at <= {{ as_of_end_at() }}
            and state.rules_key_count = 1
            and state.rules_key = {{ decayed_rules_key() }}
            and (
                select min(validated.validated_at) from {{ ref('int_events_validated') }} as validated
            ) <= state.validated_through
            as is_current
        from state
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}

{#-
    int_lead_event_types_decayed may be carried forward when the as-of date did not move back, the points and
    half-lives of engagement_event_points are the ones its sums were made with, and int_events_validated still
    holds the rows it summed (it was not rebuilt: some of its rows were validated before this state was made).
-#}
{% macro decayed_state_is_current() %}
    {% set sql %}
        with

        state as (

            select
                max(decayed_at) as decayed_at,
                max(validated_through) as validated_through,
                min(points_key) as points_key,
                count(distinct points_key) as points_key_count,
                count(*) as row_count
            from {{ this }}

        )

        select
            state.row_count > 0
            and state.decayed_at <= {{ as_of_end_at() }}
            and state.points_key_count = 1
            and state.points_key = {{ seed_state_key(ref("engagement_event_points"), ["event_type", "points", "half_life_days"]) }}
            and (
                select min(validated.validated_at) from {{ ref('int_events_validated') }} as validated
            ) <= state.validated_through
            as is_current
        from state
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}

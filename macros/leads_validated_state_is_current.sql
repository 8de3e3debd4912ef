{#-
    int_leads_validated may be carried forward when every raw lead row it validated is still there: as many
    staged rows loaded up to its last load as it holds rows (an append keeps them; a full load replaces them
    with rows of a later load time, and the table is then rebuilt). An empty table is rebuilt too.
-#}
{% macro leads_validated_state_is_current() %}
    {% set sql %}
        select
            (select count(*) from {{ this }}) > 0
            and (select count(*) from {{ this }})
            = (
                select count(*) from {{ ref('stg_raw__leads') }} as leads
                where leads.loaded_at <= (select max(previous.loaded_at) from {{ this }} as previous)
            ) as is_current
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}
